"""Deep baselines: the DEC family and the deep multi-view embeddings.

* ``dec``: DEC and IDEC (fine-tune a pretrained autoencoder with the Student's t
  clustering layer; JECL, :mod:`mmclust.methods.jecl`, extends DEC to two views);
* ``dkm``, ``dcn``: Deep k-Means and the Deep Clustering Network (the deep
  single-input baselines of the DM2C tables, with DEC);
* ``finetune``: the fine-tuning scaffold of the DEC family (``FineTuning``: a
  private copy of the pretrained autoencoder, k-means on its codes as the
  initial centres, the progress bar, the fitted state, ``transform`` and
  ``predict``); each method keeps its own loss and loop;
* ``imsat``: IMSAT (trained from scratch; a DM2C-table baseline);
* ``vse``, ``dcca``, ``ccal``: deep two-view embeddings then k-means (rows of
  the JECL table); ``branches``: their fully connected branches and
  mini-batch loop.
"""
