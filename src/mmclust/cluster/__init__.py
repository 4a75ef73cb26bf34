"""Numerical primitives the clustering methods share, written once.

* :mod:`mmclust.cluster.graph`: k-nearest-neighbour search (scikit-learn's, or
  the blocked float32 search built for 70 000 points, CUDA when present),
  heat-kernel kNN graphs, their symmetric / row-normalised / Laplacian forms
  and the 1-nearest-neighbour components that start the agglomerative
  methods;
* :mod:`mmclust.cluster.spectral`: normalised affinities, top eigenpairs,
  the Ng-Jordan-Weiss embedding and the anchor-graph embedding;
* :mod:`mmclust.cluster.nmf`: the semi-NMF update and the layer-wise semi-NMF.

No estimator lives here: the methods in :mod:`mmclust.methods` call these.
"""
