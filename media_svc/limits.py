"""What media_svc accepts in one call, public so that its callers do not copy it."""

from __future__ import annotations

# Object keys one SignUrls call may ask to sign.
SIGN_URLS_MAX = 500
