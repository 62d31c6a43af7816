"""Orientation maths: unit quaternions (w, x, y, z) rotate segment coordinates into world coordinates
(heading-aligned: x forward, y left, z up); leading axes broadcast."""

from __future__ import annotations

import math

import numpy as np

DEG = math.pi / 180.0
FORWARD, LEFT, UP = np.eye(3)


def quat_multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    pw, px, py, pz = np.moveaxis(p, -1, 0)
    qw, qx, qy, qz = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            pw * qw - px * qx - py * qy - pz * qz,
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
        ],
        axis=-1,
    )


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    return np.concatenate([np.cos(angle / 2), 0.5 * np.sinc(angle / (2 * np.pi)) * rotvec], axis=-1)


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """Rotation vector of the shortest rotation that ``q`` represents."""
    q = np.where(q[..., :1] < 0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(sin_half, q[..., :1])
    scale = np.divide(angle, sin_half, out=np.full_like(angle, 2.0), where=sin_half > 0)
    return scale * q[..., 1:]


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    w, u = q[..., :1], q[..., 1:]
    uv = np.cross(u, v)
    return v + 2 * w * uv + 2 * np.cross(u, uv)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    return np.stack([quat_rotate(q, axis) for axis in np.eye(3)], axis=-1)


def pose_quaternion(pitch_deg: float, roll_deg: float, twist_deg: float) -> np.ndarray:
    """Tilt the segment's up axis forward by pitch, then to the right by roll; twist about the long axis."""
    pitch = quat_from_rotvec(LEFT * pitch_deg * DEG)
    roll = quat_from_rotvec(FORWARD * roll_deg * DEG)
    twist = quat_from_rotvec(UP * twist_deg * DEG)
    return quat_multiply(quat_multiply(pitch, roll), twist)
