"""Data: the image data sets (embedded MNIST digits, MNIST-rot, full MNIST), KarateClub, rotations
of images, and reading a user's own digit image.

Imports nothing from ``core`` but the base modules (``config``, ``errors``, ``registry``).
"""
