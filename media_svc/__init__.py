"""media_svc: uploads into S3, libvips renditions, signed URLs."""
