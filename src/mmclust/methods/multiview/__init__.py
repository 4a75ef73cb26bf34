"""Shallow multi-view and incomplete-view baselines of the JECL table.

``bmvc`` (binary codes), ``lrssc`` (low-rank sparse subspaces), ``dmf_mvc``
(deep semi-NMF), ``pic`` and ``daimc`` (incomplete views); ``common`` holds the
pieces they share with the deep two-view baselines (k-means and spectral
"+ KM / + SC" steps, the MLP branches, the complete-view check).
"""
