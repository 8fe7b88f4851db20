"""The Node.js runtime: the runner and the file set the Docker image and the namespace runtime tree share."""
