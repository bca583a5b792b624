"""apt_sources.py - the machine's Debian 12 apt sources (one-line and deb822 formats, in
/etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources), for the offline base
image: `mirror` prints the URI of the `bookworm` suite (debootstrap's mirror); `deb822` prints
every bookworm* entry as one deb822 file for the image (signed by Debian's keyring there).
Usage: apt_sources.py mirror|deb822 [APT_DIR]"""
import glob
import os
import sys


def one_line(path):
    for line in open(path, encoding="utf-8"):
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 3:
            yield words[0], [words[1]], words[2:]


def deb822(path):
    for stanza in open(path, encoding="utf-8").read().split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" not in fields.get("types", []) or fields.get("enabled", ["yes"])[0] == "no":
            continue
        for uri in fields.get("uris", []):
            yield uri, fields.get("suites", []), fields.get("components", [])


def entries(apt_dir):
    paths = [os.path.join(apt_dir, "sources.list")]
    paths += sorted(glob.glob(os.path.join(apt_dir, "sources.list.d", "*.list")))
    paths += sorted(glob.glob(os.path.join(apt_dir, "sources.list.d", "*.sources")))
    for path in paths:
        if not os.path.isfile(path):
            continue
        parse = deb822 if path.endswith(".sources") else one_line
        for uri, suites, components in parse(path):
            suites = [s for s in suites if s.split("-")[0].split("/")[0] == "bookworm"]
            if suites:
                yield uri, suites, components


def main():
    what = sys.argv[1]
    found = list(entries(sys.argv[2] if len(sys.argv) > 2 else "/etc/apt"))
    if what == "mirror":
        mirrors = [uri for uri, suites, _ in found if "bookworm" in suites]
        if not mirrors:
            sys.exit("apt_sources: no bookworm source in the machine's apt sources")
        print(mirrors[0])
    elif what == "deb822":
        for uri, suites, components in found:
            print("Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\n"
                  "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                  % (uri, " ".join(suites), " ".join(components)))
    else:
        sys.exit(__doc__)


main()
