"""Make asv's published site self-contained: its JavaScript and CSS served beside it, not from CDNs.

asv 0.6.6's index.html loads jQuery, Flot, Bootstrap and three small plugins from public CDNs. A
site opened where those cannot be reached (this machine, an air-gapped lab, a CI browser test)
draws nothing. This rewrites the published index.html to load the same libraries from
``<html_dir>/vendor/``, fetched once from the npm registry (``npm pack``, cached under
``$XDG_CACHE_HOME/jitpi/asv-www``). Where the npm file is byte-identical to the CDN's (jQuery,
Bootstrap, md5, orderBars) the Subresource Integrity hash stays and the browser checks it; Flot
0.8.3's npm package ships unminified sources of the same release, and stupidtable comes as 1.1.3,
so those two lose their integrity attribute.

    python tools/asv_site.py .asv/html        # after `asv publish`

Without npm it leaves the site as asv wrote it (CDN links) and says so; the site then works
wherever the CDNs are reachable, GitHub Pages included.

It also puts a link to jitpi's own page, ``jitpi/index.html`` (the backends compared: written by
``jitpi page --asv-results .asv/results --out .asv/html/jitpi``), in the navigation bar
at the top of asv's index.html, once, whether or not npm is there.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

# CDN URL (as in asv 0.6.6's www/index.html) -> (npm package@version, file inside the package).
ASSETS = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": (
        "flot@0.8.3",
        "jquery.flot.time.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": (
        "flot@0.8.3",
        "jquery.flot.selection.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": (
        "flot@0.8.3",
        "jquery.flot.categories.js",
    ),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": (
        "flot-orderbars@1.0.0",
        "js/jquery.flot.orderBars.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": (
        "stupid-table-plugin@1.1.3",
        "stupidtable.min.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": (
        "blueimp-md5@2.19.0",
        "js/md5.min.js",
    ),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": (
        "bootstrap@3.1.1",
        "dist/js/bootstrap.min.js",
    ),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": (
        "bootstrap@3.1.1",
        "dist/css/bootstrap.min.css",
    ),
}
VENDOR = "vendor"
JITPI_PAGE = "jitpi/index.html"
JITPI_LINK_ID = "nav-li-jitpi"
JITPI_LINK = (
    f'<li id="{JITPI_LINK_ID}"><a href="{JITPI_PAGE}" title="jitpi: leaderboard, throughput against n and '
    'time to a precision of pi, every backend on one page" style="font-weight: bold; color: #1f77b4">'
    "Backends compared (jitpi) &rarr;</a></li>"
)
# The last item of asv 0.6.6's navigation bar before the benchmark title: the link goes after it.
NAV_ANCHOR = re.compile(r'<li id="nav-li-regressions">.*?</li>', re.DOTALL)
# A script or stylesheet tag that loads from http(s): its URL and its integrity attribute.
REMOTE_TAG = re.compile(r'<(?:script|link)\b[^>]*?(?:src|href)="(https?://[^"]+)"[^>]*>')
INTEGRITY = re.compile(r'\s+integrity="([^"]+)"')


class SiteError(RuntimeError):
    pass


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jitpi" / "asv-www"


def package_dir(spec: str) -> Path:
    """The unpacked npm package ``spec`` (name@version), fetched with ``npm pack`` on first use."""
    unpacked = cache_dir() / spec
    if (unpacked / "package.json").is_file():
        return unpacked
    npm = shutil.which("npm")
    if npm is None:
        raise SiteError("npm is not installed: cannot fetch the site's JavaScript libraries")
    download = cache_dir() / "downloads"
    download.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", str(download), spec],
        capture_output=True, text=True, timeout=300,
    )
    if done.returncode != 0:
        raise SiteError(f"npm pack {spec} failed: {done.stderr.strip()[-500:]}")
    tarball = download / done.stdout.strip().splitlines()[-1]
    staging = unpacked.with_name(unpacked.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(staging, filter="data")
    shutil.rmtree(unpacked, ignore_errors=True)
    (staging / "package").rename(unpacked)
    shutil.rmtree(staging)
    return unpacked


def integrity_of(data: bytes, algorithm: str) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def localize(html_dir: Path) -> list[str]:
    """Rewrite ``html_dir``'s pages to load every CDN asset from ``html_dir/vendor``; return them."""
    vendor = html_dir / VENDOR
    vendor.mkdir(exist_ok=True)
    localized = []
    for page in sorted(html_dir.glob("*.html")):
        text = page.read_text(encoding="utf-8")

        def local(match: re.Match, page: Path = page) -> str:
            url = match.group(1)
            if url not in ASSETS:
                raise SiteError(f"{page.name} loads {url}, which tools/asv_site.py does not know")
            spec, inner = ASSETS[url]
            data = (package_dir(spec) / inner).read_bytes()
            name = f"{spec.replace('@', '-')}-{Path(inner).name}"
            (vendor / name).write_bytes(data)
            tag = match.group(0).replace(url, f"{VENDOR}/{name}")
            declared = INTEGRITY.search(tag)
            if declared and declared.group(1) != integrity_of(data, declared.group(1).split("-")[0]):
                tag = INTEGRITY.sub("", tag)
            localized.append(url)
            return tag

        page.write_text(REMOTE_TAG.sub(local, text), encoding="utf-8")
    return localized


def link_jitpi_page(html_dir: Path) -> bool:
    """Add the link to jitpi's page to the navigation bar of ``html_dir/index.html`` (or, where asv's
    bar is not found, a banner at the top of the page); False where it is there already."""
    index = html_dir / "index.html"
    text = index.read_text(encoding="utf-8")
    if f'id="{JITPI_LINK_ID}"' in text:
        return False
    anchor = NAV_ANCHOR.search(text)
    if anchor is not None:
        text = text[: anchor.end()] + "\n\t" + JITPI_LINK + text[anchor.end() :]
    else:
        banner = (
            f'<div id="{JITPI_LINK_ID}" style="padding: 8px 16px; background: #eef5fb; font-size: 15px">'
            f'<a href="{JITPI_PAGE}" style="font-weight: bold">Backends compared (jitpi) &rarr;</a></div>'
        )
        text = re.sub(r"(<body[^>]*>)", lambda match: match.group(1) + banner, text, count=1)
    index.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", type=Path, help="asv's html_dir, after `asv publish`")
    args = parser.parse_args(argv)
    if not (args.html_dir / "index.html").is_file():
        print(f"asv_site: no index.html in {args.html_dir}: run `asv publish` first", file=sys.stderr)
        return 2
    if link_jitpi_page(args.html_dir):
        print(f"asv_site: index.html links to {JITPI_PAGE} (jitpi page writes it)")
    try:
        localized = localize(args.html_dir)
    except SiteError as error:
        print(f"asv_site: {error}; the site keeps its CDN links", file=sys.stderr)
        return 0
    print(f"asv_site: {len(localized)} CDN assets now served from {args.html_dir / VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
