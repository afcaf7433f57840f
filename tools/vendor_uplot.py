"""Refresh the vendored uPlot (templates/assets/) from the npm registry and check its hashes.

    python tools/vendor_uplot.py            # re-download the pinned version, check it matches
    python tools/vendor_uplot.py --version 1.6.33 --update   # move the pin, then review + commit

The pin (version, npm integrity and each file's sha256) is templates/assets/uplot.json; the
wheel test checks the vendored files against it. Uses the ordinary npm client (`npm view`,
`npm pack`), so registry settings and proxies apply as usual.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "templates" / "assets"
PIN = ASSETS / "uplot.json"
#: file in the npm package -> vendored name
FILES = {
    "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "uPlot.LICENSE",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm_json(*args: str) -> object:
    done = subprocess.run(["npm", *args, "--json"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def fetch(version: str) -> tuple[str, dict[str, bytes]]:
    """The package's npm integrity string and the vendored files' bytes, integrity checked."""
    integrity = str(npm_json("view", f"uplot@{version}", "dist.integrity"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"uplot@{version}", "--pack-destination", tmp],
            capture_output=True,
            check=True,
        )
        (tarball,) = Path(tmp).glob("uplot-*.tgz")
        algo, _, digest = integrity.partition("-")
        got = base64.b64encode(hashlib.new(algo, tarball.read_bytes()).digest()).decode()
        if got != digest:
            raise SystemExit(f"npm tarball {tarball.name}: {algo} {got} != registry's {digest}")
        with tarfile.open(tarball) as tar:
            files = {}
            for member, name in FILES.items():
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise SystemExit(f"{member} missing from {tarball.name}")
                files[name] = extracted.read()
    return integrity, files


def main() -> int:
    pin = json.loads(PIN.read_text()) if PIN.exists() else {}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=pin.get("version"), help="uPlot version")
    parser.add_argument("--update", action="store_true", help="write the files and a new pin")
    args = parser.parse_args()
    if not args.version:
        parser.error("no pin yet: give --version")
    integrity, files = fetch(args.version)
    hashes = {name: sha256(data) for name, data in files.items()}
    if not args.update:
        expected = pin.get("files", {})
        if args.version != pin.get("version") or hashes != expected:
            print(f"uplot@{args.version} does not match the pin {PIN}:", file=sys.stderr)
            print(json.dumps(hashes, indent=2), file=sys.stderr)
            return 1
        for name in files:
            if sha256((ASSETS / name).read_bytes()) != hashes[name]:
                print(f"{ASSETS / name} differs from the registry's; rerun with --update")
                return 1
        print(f"uplot@{args.version}: vendored files match the registry and the pin")
        return 0
    for name, data in files.items():
        (ASSETS / name).write_bytes(data)
    pin = {"package": "uplot", "version": args.version, "integrity": integrity, "files": hashes}
    PIN.write_text(json.dumps(pin, indent=2) + "\n")
    print(f"vendored uplot@{args.version} into {ASSETS}; review and commit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
