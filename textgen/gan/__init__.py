"""The text-to-image GAN's training (:mod:`textgen.gan.trainer`) and model folders (:mod:`textgen.gan.model`);
the networks and losses live in :mod:`textgen.models.gan`."""
