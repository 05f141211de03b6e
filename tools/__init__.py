"""Developer tools run from the repository: the container image build (image.py)."""
