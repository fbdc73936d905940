"""Live loop: capture + pose in a worker process, the scene in the main process, joined by shared memory."""
