"""DataModules: the embedded digits, the 2D mixtures, and the torchvision/folder datasets read from small files
written here in each dataset's real on-disk format (nothing is downloaded)."""

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import datasets

from lit_gans.data import (
    CelebADataModule,
    CIFAR10DataModule,
    DataError,
    DigitsDataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    Toy2DDataModule,
)
from lit_gans.data.toy import mixture_means


def test_digits_are_scaled_split_and_resized():
    dm = DigitsDataModule(image_size=16, val_fraction=0.1, batch_size=32)
    dm.setup("fit")
    assert dm.data_shape == (1, 16, 16) and dm.num_classes == 10
    assert len(dm.train_set) + len(dm.val_set) == 1797
    assert abs(len(dm.val_set) - 180) <= 1
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (32, 1, 16, 16) and y.shape == (32,)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert float(x.min()) < -0.99 and float(x.max()) > 0.5  # background -1, strokes bright
    assert set(y.tolist()) <= set(range(10))


def test_digits_split_is_seeded():
    a, b = DigitsDataModule(seed=3), DigitsDataModule(seed=3)
    a.setup(), b.setup()
    assert torch.equal(a.val_set.tensors[0], b.val_set.tensors[0])


def test_ring_and_grid_means_follow_the_pacgan_protocol():
    ring = mixture_means("ring")
    assert ring.shape == (8, 2)
    assert torch.allclose(ring.norm(dim=1), torch.ones(8), atol=1e-6)
    grid = mixture_means("grid")
    assert grid.shape == (25, 2)
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("mixture,std", [("ring", 0.01), ("grid", 0.05)])
def test_toy_samples_lie_near_their_modes(mixture, std):
    dm = Toy2DDataModule(mixture=mixture, num_samples=4000, seed=1)
    dm.setup()
    x, mode = dm.train_set.tensors
    dist = (x - dm.means[mode]).norm(dim=1)
    # the distance to the mode of a 2D isotropic Gaussian has mean std * sqrt(pi / 2)
    assert abs(float(dist.mean()) / std - (np.pi / 2) ** 0.5) < 0.05
    counts = torch.bincount(mode, minlength=len(dm.means)).float()
    assert float(counts.min()) > 0.7 * float(counts.mean())


def test_grid_with_non_square_modes_is_rejected():
    with pytest.raises(DataError, match="square number"):
        Toy2DDataModule(mixture="grid", num_modes=10)


# --- torchvision datasets from files in their real formats ------------------------------------------------------------
def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX format: magic (0, 0, type 0x08 = ubyte, ndim), big-endian int32 dims, raw bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_mnist(root: Path, folder: str, n: int = 20) -> np.ndarray:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28))
    labels = np.arange(n) % 10
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", images)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return images


@pytest.mark.parametrize("cls,folder", [(MNISTDataModule, "MNIST"), (FashionMNISTDataModule, "FashionMNIST")])
def test_mnist_formats_load_from_idx_files(tmp_path, cls, folder):
    images = _write_mnist(tmp_path, folder)
    dm = cls(root=str(tmp_path), image_size=32, batch_size=4, num_workers=0)
    dm.setup("fit")
    assert dm.data_shape == (1, 32, 32) and dm.num_classes == 10
    x, y = dm.train_set[3]
    assert x.shape == (1, 32, 32) and y == 3
    # resizing 28 -> 32 keeps the mean brightness of the written image
    assert abs(float(x.mean()) - (images[3].mean() / 255 * 2 - 1)) < 0.05


def test_missing_dataset_names_the_fix(tmp_path):
    dm = MNISTDataModule(root=str(tmp_path / "nothing"), download=False)
    with pytest.raises(DataError, match="data.download: true"):
        dm.setup("fit")


def test_cifar10_loads_from_pickled_batches(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        batch = {"data": rng.integers(0, 256, size=(4, 3072), dtype=np.uint8), "labels": [1, 2, 3, 4]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    # torchvision checks the published MD5 sums, which no small file can match; the reading itself is the real one.
    monkeypatch.setattr(datasets.cifar, "check_integrity", lambda path, md5=None: Path(path).is_file())
    dm = CIFAR10DataModule(root=str(tmp_path), image_size=32, batch_size=4, num_workers=0)
    dm.setup("fit")
    assert len(dm.train_set) == 20 and len(dm.val_set) == 4
    x, y = dm.train_set[1]
    assert x.shape == (3, 32, 32) and y == 2
    first = np.frombuffer(pickle.load(open(folder / "data_batch_1", "rb"))["data"][1].tobytes(), dtype=np.uint8)
    assert abs(float(x[0, 0, 0]) - (first[0] / 255 * 2 - 1)) < 1e-5  # channel-major rows, as CIFAR stores them


def test_celeba_loads_from_its_folder_layout(tmp_path, monkeypatch):
    base = tmp_path / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, 7)]
    for i, name in enumerate(names):
        Image.new("RGB", (178, 218), (40 * i, 10, 200)).save(base / "img_align_celeba" / name)
    (base / "list_eval_partition.txt").write_text("".join(f"{n} {0 if i < 4 else 1}\n" for i, n in enumerate(names)))
    (base / "identity_CelebA.txt").write_text("".join(f"{n} 1\n" for n in names))
    attr_names = " ".join(f"a{i}" for i in range(40))
    (base / "list_attr_celeba.txt").write_text(f"{len(names)}\n{attr_names}\n" + "".join(f"{n} " + " ".join(["1"] * 40) + "\n" for n in names))
    (base / "list_bbox_celeba.txt").write_text(f"{len(names)}\nimage_id x_1 y_1 width height\n" + "".join(f"{n} 0 0 1 1\n" for n in names))
    (base / "list_landmarks_align_celeba.txt").write_text(f"{len(names)}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n" + "".join(f"{n} " + " ".join(["1"] * 10) + "\n" for n in names))
    monkeypatch.setattr(datasets.CelebA, "_check_integrity", lambda self: True)
    dm = CelebADataModule(root=str(tmp_path), image_size=64, batch_size=2, num_workers=0)
    dm.setup("fit")
    assert len(dm.train_set) == 4 and len(dm.val_set) == 2
    x, _ = dm.train_set[2]
    assert x.shape == (3, 64, 64)
    assert abs(float(x[0].mean()) - (80 / 255 * 2 - 1)) < 0.02


def _png_folder(folder: Path, classes=("cat", "dog"), per_class=3, size=(20, 12)) -> None:
    for c in classes:
        (folder / c).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", size, (10 * i, 100, 200)).save(folder / c / f"{i}.png")


def test_image_folder_with_classes(tmp_path):
    _png_folder(tmp_path)
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=8, channels=3, num_workers=0)
    dm.setup()
    assert dm.num_classes == 2 and dm.data_shape == (3, 8, 8) and len(dm.train_set) == 6
    labels = sorted(dm.train_set[i][1] for i in range(6))
    assert labels == [0, 0, 0, 1, 1, 1]


def test_flat_image_folder_of_mixed_sizes_is_unlabelled(tmp_path):
    Image.new("L", (30, 30), 255).save(tmp_path / "a.png")
    Image.new("RGB", (50, 20), (0, 0, 0)).save(tmp_path / "b.jpg")
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=16, channels=1, num_workers=0)
    dm.setup()
    assert dm.num_classes == 0 and len(dm.train_set) == 2
    values = sorted(float(dm.train_set[i][0].mean()) for i in range(2))
    assert abs(values[0] + 1) < 1e-5 and abs(values[1] - 1) < 1e-5


@pytest.mark.parametrize("make,match", [
    (lambda p: p / "absent", "does not exist"),
    (lambda p: p, "no images"),
])
def test_missing_or_empty_image_folder(tmp_path, make, match):
    dm = ImageFolderDataModule(root=str(make(tmp_path)), num_workers=0)
    with pytest.raises(DataError, match=match):
        dm.setup()


def test_corrupt_image_is_named(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=8, num_workers=0)
    dm.setup()
    bad = [i for i, (p, _) in enumerate(dm.train_set.items) if p.name == "bad.png"][0]
    with pytest.raises(DataError, match="bad.png"):
        dm.train_set[bad]
