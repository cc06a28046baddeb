"""The text-to-image GAN family (Reed et al. 2016 with DF-GAN's architecture), one room per concern:

* ``configuration.py`` -- the networks' and a training run's configs (torch-free);
* ``modeling.py``      -- the generator, the matching-aware discriminator, the cVAE-GAN posterior encoder;
* ``losses.py``        -- every loss, one function each (add a GAN loss here and one line in ``gan_step``);
* ``text_encoders.py`` -- captions to sentence embeddings; ``text_encoder_training.py`` -- their pre-training;
* ``folder.py``        -- the GAN's model folders; ``trainer.py`` -- ``textgen train-gan``;
* ``pipeline.py``      -- :class:`TextToImagePipeline`;
* ``eval/``            -- the attribute judge, FID/KID, ``eval-gan``, diagnostics and plots.
"""
