"""The text-to-image GAN family (Reed et al. 2016 with DF-GAN's architecture), one room per concern:

* ``configuration.py`` -- the networks' and a training run's configs (torch-free);
* ``modeling.py``      -- the generator, the matching-aware discriminator, the cVAE-GAN posterior encoder, and
                          :class:`TextToImageGAN`, which owns them with the text encoder and is one model folder;
* ``losses.py``        -- every loss, one function each (add a GAN loss here and one line in ``gan_step``);
* ``text_encoders.py`` -- captions to sentence embeddings; ``text_encoder_training.py`` -- their pre-training;
* ``trainer.py``       -- ``textgen train-gan`` (``gan_step``: one D and one G update);
* ``pipeline.py``      -- :class:`TextToImagePipeline`;
* ``eval/``            -- the attribute judge, FID/KID, ``eval-gan``, diagnostics and plots.
"""
