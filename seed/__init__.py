"""Demo data for a running stack (``make seed``): users, a power-law follow graph,
photos through the real upload pipeline, full home feeds. See ``seed.__main__``."""
