import pytest

from tests.powercut.lazyfs import LazyFS, Unavailable, build, fuse_available


@pytest.fixture
def lazyfs(tmp_path):
    """A LazyFS mount (built from tools/lazyfs on first use); skips where FUSE, the build or the
    mount is not available, and is always unmounted at the end."""
    why = fuse_available()
    if why:
        pytest.skip(f"power-cut test needs FUSE: {why}")
    try:
        binary = build()
    except Unavailable as e:
        pytest.skip(f"power-cut test needs LazyFS: {e}")
    fs = LazyFS(binary, tmp_path / "lazyfs")
    try:
        fs.mount()
    except Unavailable as e:
        pytest.skip(f"power-cut test needs a LazyFS mount: {e}")
    try:
        yield fs
    finally:
        fs.unmount()
