"""No file of the repository cites a file outside it: a comment or a doc that sends its reader
to ../shared/ (the team's notes, which a reader of the code does not have) fails this check;
the facts belong in docs/ (docs/whisper-facts.md). Run by ctest; prints every citation and
exits 1 if there is one.

usage: python3 tests/layout/check_citations.py [REPO_DIR]"""
import os
import re
import sys

ROOTS = ["src", "include", "tools", "tests", "python", "fuzz", "examples", "docs", "cmake"]
FILES = ["README.md", "CMakeLists.txt", "dev", "CHANGELOG.md"]
SUFFIXES = (".c", ".h", ".py", ".md", ".txt", ".sh", ".cmake", ".in", ".toml", ".cfg")
OUTSIDE = re.compile(r"\.\./shared/|shared/(WHISPER|DESIGN|STYLE)\.md")
SKIP = {os.path.join("tests", "data")}  # recorded speech and its licenses, not ours to edit


def citations(repo):
    paths = [os.path.join(repo, f) for f in FILES]
    for root in ROOTS:
        for top, dirs, files in os.walk(os.path.join(repo, root)):
            dirs[:] = [d for d in dirs if os.path.relpath(os.path.join(top, d), repo) not in SKIP]
            paths += [os.path.join(top, f) for f in files if f.endswith(SUFFIXES)]
    for path in paths:
        if not os.path.isfile(path) or os.path.abspath(path) == os.path.abspath(__file__):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if OUTSIDE.search(line):
                    yield f"{os.path.relpath(path, repo)}:{n}: {line.strip()}"


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    found = list(citations(repo))
    for c in found:
        print(c)
    print(f"check_citations: {len(found)} citations of files outside the repository"
          if found else "check_citations: no file cites one outside the repository")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
