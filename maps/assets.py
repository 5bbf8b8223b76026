"""Offline JS/CSS for the maps: pinned npm packages vendored under ``maps/static/vendor``.

Folium pages load Leaflet, jQuery, Bootstrap, Font Awesome and plugin code from public CDNs.
Committee offices often sit on intranets that cannot reach them (and the tests have no internet),
so the service serves every asset itself and :func:`localize` rewrites a map's links to
``/static/vendor/...`` before it is rendered. Only map tiles still come from outside, and the map
stays usable (layers, legend, popups) when they cannot load.

The files come from the npm registry at the versions Folium itself pins (:data:`PACKAGES`, each
with the registry's SHA-512 integrity) and are committed with their licences;
``python -m maps.assets fetch`` downloads them again and ``python -m maps.assets check`` verifies
the committed files against :data:`MANIFEST_FILE` (SHA-256 per file).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATIC_DIR = Path(__file__).with_name("static")
VENDOR_DIR = STATIC_DIR / "vendor"
MANIFEST_FILE = VENDOR_DIR / "manifest.json"
REGISTRY = "https://registry.npmjs.org"
DEFAULT_PREFIX = "/static"


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm package and the files (paths inside its tarball) that the maps need."""

    name: str
    version: str
    integrity: str  # the registry's dist.integrity (SRI, sha512)
    files: tuple[str, ...]

    @property
    def folder(self) -> str:
        """Local folder under :data:`VENDOR_DIR`, e.g. ``leaflet-1.9.3``."""
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}"

    @property
    def tarball_url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage("leaflet", "1.9.3",
               "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
               ("LICENSE", "dist/leaflet.js", "dist/leaflet.css", "dist/images/layers.png",
                "dist/images/layers-2x.png", "dist/images/marker-icon.png", "dist/images/marker-icon-2x.png",
                "dist/images/marker-shadow.png")),
    NpmPackage("jquery", "3.7.1",
               "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
               ("LICENSE.txt", "dist/jquery.min.js")),
    NpmPackage("bootstrap", "5.2.2",
               "sha512-dEtzMTV71n6Fhmbg4fYJzQsw1N29hJKO1js5ackCgIpDcGid2ETMGC6zwSYw09v05Y+oRdQ9loC54zB1La3hHQ==",
               ("LICENSE", "dist/js/bootstrap.bundle.min.js", "dist/css/bootstrap.min.css")),
    NpmPackage("@fortawesome/fontawesome-free", "6.2.0",
               "sha512-CNR7qRIfCwWHNN7FnKUniva94edPdyQzil/zCwk3v6k4R6rR2Fr8i4s3PM7n/lyfPA6Zfko9z5WDzFxG9SW1uQ==",
               ("LICENSE.txt", "css/all.min.css", "webfonts/fa-solid-900.woff2",
                "webfonts/fa-regular-400.woff2", "webfonts/fa-brands-400.woff2",
                "webfonts/fa-v4compatibility.woff2")),
    NpmPackage("leaflet.awesome-markers", "2.0.4",
               "sha512-LWm2PlfwrF81xcV5VgCtnMWKvFG2dPKkFWgB58ynOPx+EQJ+3si5amtX/pI1RjlV8ivclhbjxVeNI87x+O1FuA==",
               ("LICENSE", "dist/leaflet.awesome-markers.js", "dist/leaflet.awesome-markers.css",
                "dist/images/markers-soft.png", "dist/images/markers-soft@2x.png",
                "dist/images/markers-shadow.png", "dist/images/markers-shadow@2x.png")),
    NpmPackage("leaflet-search", "2.9.7",
               "sha512-v7CxEbXyQXqLFjSkTpvM5i1cvmrcPOos57UmTnR94qqvVZykXyz/0SKEs3cbkFHjyrmMQ3Yk2Q5W6PvyuiSuPg==",
               ("license.txt", "dist/leaflet-search.min.js", "dist/leaflet-search.min.css",
                "images/search-icon.png", "images/loader.gif")),
    NpmPackage("leaflet.markercluster", "1.1.0",
               "sha512-eI+XkCiLiHwCC3uZ4/n4+Vq3rXcqEHN2lhHRVG1WVziy/3Q0TTipWkzEa1zO0dKZI2AnI5ppFDWrOjnQ7MJLKQ==",
               ("MIT-LICENCE.txt", "dist/leaflet.markercluster.js", "dist/MarkerCluster.css",
                "dist/MarkerCluster.Default.css")),
)

_PKG = {p.name: p for p in PACKAGES}


def _local(pkg: str, path: str) -> str:
    return f"vendor/{_PKG[pkg].folder}/{path}"


# Folium's CDN URLs (by resource name) -> the local file (relative to /static), or None: not served
# (the Bootstrap 3 glyphicon font and the rotate helper; use Font Awesome icons, prefix="fa").
LOCAL_BY_NAME: dict[str, str | None] = {
    "leaflet": _local("leaflet", "dist/leaflet.js"),
    "leaflet_css": _local("leaflet", "dist/leaflet.css"),
    "jquery": _local("jquery", "dist/jquery.min.js"),
    "bootstrap": _local("bootstrap", "dist/js/bootstrap.bundle.min.js"),
    "bootstrap_css": _local("bootstrap", "dist/css/bootstrap.min.css"),
    "glyphicons_css": None,
    "awesome_markers": _local("leaflet.awesome-markers", "dist/leaflet.awesome-markers.js"),
    "awesome_markers_css": _local("leaflet.awesome-markers", "dist/leaflet.awesome-markers.css"),
    "awesome_markers_font_css": _local("@fortawesome/fontawesome-free", "css/all.min.css"),
    "awesome_rotate_css": None,
    "Leaflet.Search.js": _local("leaflet-search", "dist/leaflet-search.min.js"),
    "Leaflet.Search.css": _local("leaflet-search", "dist/leaflet-search.min.css"),
    "markerclusterjs": _local("leaflet.markercluster", "dist/leaflet.markercluster.js"),
    "markerclustercss": _local("leaflet.markercluster", "dist/MarkerCluster.css"),
    "markerclusterdefaultcss": _local("leaflet.markercluster", "dist/MarkerCluster.Default.css"),
}


class UnservedAssetError(RuntimeError):
    """A map element needs a JS/CSS asset the service does not vendor (it would load from a CDN)."""


def _walk(element: Any):
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


def localize(m: Any, prefix: str = DEFAULT_PREFIX) -> Any:
    """Point every JS/CSS link of map ``m`` (and its children) at the service's ``prefix`` URL.

    Works per element instance (Folium's class-level lists are left untouched, so other maps in
    the process are not affected). Raises :class:`UnservedAssetError` naming the element and
    resource when an element needs an asset that is not vendored: better than a page that
    silently calls out to a CDN. Returns ``m``.
    """
    prefix = prefix.rstrip("/")
    for el in _walk(m):
        for attr in ("default_js", "default_css"):
            links = getattr(el, attr, None)
            if not links:
                continue
            out = []
            for name, url in links:
                if not url.startswith(("http://", "https://", "//")):
                    # already local: re-point it at this prefix
                    local = url.split("vendor/", 1)
                    out.append((name, f"{prefix}/vendor/{local[1]}" if len(local) == 2 else url))
                    continue
                if name not in LOCAL_BY_NAME:
                    raise UnservedAssetError(
                        f"{type(el).__name__} needs '{name}' from {url}, which is not vendored under "
                        f"maps/static/vendor (add it to maps.assets.PACKAGES/LOCAL_BY_NAME)")
                local = LOCAL_BY_NAME[name]
                if local is not None:
                    out.append((name, f"{prefix}/{local}"))
            setattr(el, attr, out)
    return m


# --- fetching and checking the vendored files -----------------------------------------------------

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(dest: Path = VENDOR_DIR, *, timeout_s: float = 60.0) -> dict[str, str]:
    """Download :data:`PACKAGES` from the npm registry, verify each tarball's SHA-512 integrity,
    extract the listed files under ``dest/<name>-<version>/`` and write the manifest.

    Returns the manifest: local path (relative to ``dest``) -> SHA-256 hex digest.
    """
    manifest: dict[str, str] = {}
    for pkg in PACKAGES:
        with urllib.request.urlopen(pkg.tarball_url, timeout=timeout_s) as r:
            blob = r.read()
        algo, _, want = pkg.integrity.partition("-")
        got = base64.b64encode(hashlib.new(algo, blob).digest()).decode()
        if got != want:
            raise RuntimeError(f"{pkg.name}@{pkg.version}: integrity mismatch ({algo} {got} != {want})")
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            for rel in pkg.files:
                data = tar.extractfile(f"package/{rel}").read()  # type: ignore[union-attr]
                out = dest / pkg.folder / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
                manifest[f"{pkg.folder}/{rel}"] = _sha256(data)
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def check(dest: Path = VENDOR_DIR) -> list[str]:
    """Problems with the vendored files (missing or changed against the manifest); empty if fine."""
    manifest_path = dest / "manifest.json"
    if not manifest_path.exists():
        return [f"{manifest_path} is missing: run python -m maps.assets fetch"]
    manifest = json.loads(manifest_path.read_text())
    problems = []
    for rel, digest in manifest.items():
        p = dest / rel
        if not p.exists():
            problems.append(f"{rel}: missing")
        elif _sha256(p.read_bytes()) != digest:
            problems.append(f"{rel}: content differs from the pinned package")
    for pkg in PACKAGES:
        for rel in pkg.files:
            if f"{pkg.folder}/{rel}" not in manifest:
                problems.append(f"{pkg.folder}/{rel}: not in the manifest")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m maps.assets fetch|check``."""
    args = sys.argv[1:] if argv is None else argv
    cmd = args[0] if args else "check"
    if cmd == "fetch":
        manifest = fetch()
        print(f"fetched {len(manifest)} files into {VENDOR_DIR}")
        return 0
    if cmd == "check":
        problems = check()
        for p in problems:
            print(p)
        print("ok" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    print("usage: python -m maps.assets fetch|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())


_INLINE_PREFIX = "gs-inline-asset"
_ASSET_TAG = re.compile(r'<script src="gs-inline-asset/(vendor/[^"]+)"></script>'
                        r'|<link rel="stylesheet" href="gs-inline-asset/(vendor/[^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")
_MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml", ".woff2": "font/woff2"}


def _inline_css(css: str, css_path: Path) -> str:
    """``url(relative)`` in a vendored stylesheet replaced by ``data:`` URIs of the files."""
    def sub(m: re.Match) -> str:
        ref = m.group(2)
        if ref.startswith(("data:", "#", "http:", "https:", "//")):
            return m.group(0)
        f = (css_path.parent / ref.split("?", 1)[0].split("#", 1)[0]).resolve()
        if STATIC_DIR.resolve() not in f.parents or not f.is_file():
            return m.group(0)
        mime = _MIME.get(f.suffix.lower(), "application/octet-stream")
        return f"url(data:{mime};base64,{base64.b64encode(f.read_bytes()).decode('ascii')})"

    return _CSS_URL.sub(sub, css)


def inline_assets(html: str) -> str:
    """A page rendered with assets under the ``gs-inline-asset`` prefix, with each vendored
    script/stylesheet written into the page (images in stylesheets as ``data:`` URIs)."""
    def sub(m: re.Match) -> str:
        rel = m.group(1) or m.group(2)
        f = (STATIC_DIR / rel).resolve()
        if VENDOR_DIR.resolve() not in f.parents or not f.is_file():
            raise UnservedAssetError(f"the page links {rel}, which is not a vendored file")
        text = f.read_text(encoding="utf-8")
        if m.group(1):
            return "<script>" + text.replace("</script", "<\\/script") + "</script>"
        return "<style>" + _inline_css(text, f).replace("</style", "<\\/style") + "</style>"

    return _ASSET_TAG.sub(sub, html)


def write_standalone(m: Any, path: str | Path) -> Path:
    """Write map ``m`` to ``path`` as ONE self-contained page that works from disk (``file://``)
    or any web server with no internet: Leaflet and the plugins are written into the page and
    their images inlined as ``data:`` URIs; nothing is written beside it (only tiles still come
    from outside). Returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    localize(m, _INLINE_PREFIX)
    html = inline_assets(m.get_root().render())
    path.write_text(html, encoding="utf-8")
    return path
