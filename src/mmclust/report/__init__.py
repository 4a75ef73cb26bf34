"""Tables and figures built from the files the clustering rules wrote."""
