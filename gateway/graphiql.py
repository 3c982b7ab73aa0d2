"""GraphiQL, served by the gateway itself: the page, its scripts and styles all come
from this origin (no CDN), under a Content-Security-Policy that allows nothing else.

The bundles (GraphiQL's UMD build, React 18's) are fetched from the npm registry at
install time by ``infra.local.graphiql`` into :data:`ASSETS`; the page and its small
start-up script are ours. It opens with the example operations a new developer needs,
one tab each; subscriptions run over graphql-transport-ws on ``/graphql``.
"""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

GRAPHIQL_VERSION = "3.8.3"
REACT_VERSION = "18.3.1"
# Git-ignored, beside the other installed tools; a version bump fetches anew.
ASSETS = Path(__file__).resolve().parents[1] / ".pictor" / "tools" / f"graphiql-{GRAPHIQL_VERSION}"
# Asset URLs carry the version, so browsers may cache them for good.
PREFIX = f"/graphiql/{GRAPHIQL_VERSION}"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")

# Self only. GraphiQL's stylesheet inlines its fonts and a few images as data: URIs
# (no request leaves the page for them); 'self' in connect-src covers the WebSocket.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_SIGN_UP = """\
# Welcome to Pictor. Each tab is an example: run it
# with Ctrl-Enter. Sign up (pick your own username),
# then put the token in the other tabs' Headers pane:
#   {"Authorization": "Bearer <token>"}
mutation SignUp {
  signUp(username: "ada", password: "a long passphrase") {
    token
    user { id username }
  }
}
"""

_HOME_FEED = """\
# Everyone you follow, newest first.
# Needs the Authorization header.
query HomeFeed($first: Int = 12, $after: String) {
  homeFeed(first: $first, after: $after) {
    edges {
      cursor
      node {
        id
        caption
        createdAt
        author { username displayName }
        media {
          status
          blurhash
          renditions { name url width height contentType }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

_UPLOAD = """\
# Uploading a photo. GraphiQL cannot attach a file, so either
# 1. send it in one request (the GraphQL multipart request spec):
#   curl GRAPHQL_URL -H "Authorization: Bearer $TOKEN" \\
#     -F operations='{"query": "mutation($f: Upload!) { uploadPost(caption: \\"Hi\\", file: $f) { id media { status } } }", "variables": {"f": null}}' \\
#     -F map='{"0": ["variables.f"]}' -F 0=@photo.jpg
# 2. or run CreatePost, PUT the bytes to uploadUrl with
#    uploadHeaders, run ConfirmUpload with the post's id,
#    and watch UploadStatus until READY.
mutation CreatePost {
  createPost(caption: "Sunset over the harbour", contentType: "image/jpeg") {
    post { id media { status } }
    uploadUrl
    uploadHeaders { name value }
    expiresAt
  }
}

mutation ConfirmUpload($postId: ID!) {
  confirmUpload(postId: $postId) { id media { status } }
}

subscription UploadStatus($postId: ID!) {
  uploadStatus(postId: $postId) { status progress message post { id } }
}
"""

_FOLLOW = """\
# Follow someone (idempotent): their recent
# posts join your home feed.
query FindUser($username: String!) {
  user(username: $username) { id username followerCount viewerFollows }
}

mutation Follow($userId: ID!) {
  follow(userId: $userId) { id username followerCount viewerFollows }
}

# Live: posts as they reach your home feed.
subscription HomeFeedUpdates {
  homeFeedUpdates { id caption author { username } }
}
"""

_AUTHORIZATION = json.dumps({"Authorization": "Bearer <token from SignUp>"}, indent=2)
EXAMPLES = [
    # GraphiQL 3 opens its first tab without the tab's variables and headers: the
    # first example needs none.
    {"query": _SIGN_UP},
    {"query": _HOME_FEED, "variables": "{}", "headers": _AUTHORIZATION},
    {"query": _UPLOAD, "variables": json.dumps({"postId": ""}), "headers": _AUTHORIZATION},
    {"query": _FOLLOW, "variables": json.dumps({"username": "ada"}), "headers": _AUTHORIZATION},
]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pictor · GraphiQL</title>
<link rel="stylesheet" href="{prefix}/graphiql.min.css">
<link rel="stylesheet" href="{prefix}/pictor.css">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script type="application/json" id="pictor-examples">{examples}</script>
{scripts}
<script src="{prefix}/pictor.js"></script>
</body>
</html>
"""

# Ours: inline scripts and styles are what the policy forbids, so these are files too.
_START = """\
"use strict";
(function () {
  const url = new URL("/graphql", window.location.href).href;
  const fetcher = GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: url.replace(/^http/, "ws"),
  });
  const tabs = JSON.parse(document.getElementById("pictor-examples").textContent);
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: tabs,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: true,
    })
  );
})();
"""
_STYLE = "html, body, #graphiql { height: 100%; margin: 0; overflow: hidden; }\n"
_OURS = {"pictor.js": (_START, _MEDIA_TYPES[".js"]), "pictor.css": (_STYLE, _MEDIA_TYPES[".css"])}


def page(request: Request) -> Response:
    if not (ASSETS / "graphiql.min.js").is_file():
        return PlainTextResponse(
            "GraphiQL's assets are not installed: run `python -m infra.local.graphiql` "
            "(`make up` does).",
            status_code=503,
        )
    url = f"{request.base_url}graphql"
    tabs = [
        {key: text.replace("GRAPHQL_URL", url) for key, text in tab.items()} for tab in EXAMPLES
    ]
    # The examples sit in a data block; "</" must not end it early.
    examples = json.dumps(tabs).replace("</", "<\\/")
    scripts = "\n".join(f'<script src="{PREFIX}/{name}"></script>' for name in _SCRIPTS)
    html = _PAGE.format(prefix=PREFIX, examples=examples, scripts=scripts)
    return HTMLResponse(html, headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"})


async def asset(request: Request) -> Response:
    """``/graphiql/<version>/<name>``: the bundles and our start-up script and style."""
    name: str = request.path_params["name"]
    headers = {**_SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
    if name in _OURS:
        body, media_type = _OURS[name]
        return Response(body, media_type=media_type, headers=headers)
    path = ASSETS / name
    # Only the files the installer put there (the name is never a path).
    if "/" in name or name.startswith(".") or not path.is_file():
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(path, media_type=_MEDIA_TYPES.get(path.suffix), headers=headers)
