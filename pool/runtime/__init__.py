"""The sandbox runtimes: what runs inside a sandbox, and the files it is assembled from."""
