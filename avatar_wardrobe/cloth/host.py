"""PhysicsHost: ClothWorlds in a worker process, driven through a pipe (PyBullet holds the GIL while it steps).

PyBullet's calls do not let go of the GIL, so a cloth step in a helper thread stops every other
Python thread of the process (the draw's, the solver's) for its whole length. Run in a worker
process it holds that process's GIL instead. `RemoteWorld` takes the same calls as
`bullet.ClothWorld`; calls without an answer (moves, steps) are sent without waiting, so a frame's
substeps cost the caller a few sends and one wait for the node positions. The worker is a new
interpreter (no fork: the parent may hold Panda3D, GL and torch threads) joined by a socket pair;
it ends when the socket closes, so it cannot outlive its owner.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections import deque
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from ..errors import WardrobeError

# The worker is a fresh interpreter (not multiprocessing's spawn, which runs the parent's main
# script again in the child: a game's script without a __main__ guard would start a second game).
WORKER_MAIN = "from avatar_wardrobe.cloth.host import serve; serve({fd}, {nice})"
REPLY_TIMEOUT_S = 60.0   # a settle (30 steps) takes well under a second; this only catches a hung worker
JOIN_TIMEOUT_S = 5.0
# Calls answered by the worker; the others are sent without waiting for their end.
ANSWERED = frozenset({"open", "add_cloth", "nodes", "nodes_of", "anchor", "sync"})


def serve(fd: int, nice: int = 0) -> None:
    """The worker's entry point: serve the parent on the socket `fd` until it closes, `nice` steps
    below the parent's CPU priority."""
    if nice:
        os.nice(nice)
    _serve(Connection(fd))


def _serve(conn) -> None:
    """The worker: run each (op, world, args) on its ClothWorld until the pipe closes."""
    from .bullet import ClothWorld

    worlds: dict[int, ClothWorld] = {}
    failed: dict[int, str] = {}  # per world: the first error of a call nobody waited for, told at its next answered call
    while True:
        try:
            op, wid, args, kwargs = conn.recv()
        except (EOFError, OSError):
            break
        if op == "quit":
            break
        try:
            if op == "open":
                result = None
                worlds[wid] = ClothWorld(*args)
            elif op == "close":
                world = worlds.pop(wid, None)
                result = world.close() if world is not None else None
            elif op == "sync":
                result = None
            else:
                result = getattr(worlds[wid], op)(*args, **kwargs)
            error = ""
        except WardrobeError as exc:
            error = str(exc)
        except Exception as exc:  # a PyBullet or programming error: told to the caller, the worker goes on
            error = f"the cloth physics process failed in {op}: {type(exc).__name__}: {exc}"
        if op not in ANSWERED:
            failed[wid] = failed.get(wid) or error
            continue
        if failed.get(wid) and not error:
            error, failed[wid] = failed[wid], ""
        try:
            conn.send((wid, "err", error) if error else (wid, "ok", result))
        except (BrokenPipeError, OSError):
            break
    for world in worlds.values():
        world.close()


class PhysicsHost:
    """One worker process holding any number of ClothWorlds; `close()` (or `with`) ends it."""

    def __init__(self, nice: int = 0):
        """nice: the worker's CPU priority below this process's (Unix nice steps; 0: the same)."""
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        try:
            self.process = subprocess.Popen([sys.executable, "-c", WORKER_MAIN.format(fd=theirs.fileno(), nice=int(nice))],
                                            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        except OSError as exc:
            ours.close()
            raise WardrobeError(f"could not start the cloth physics process ({exc}): the garment is skinned.") from None
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()
        self._next_world = 0
        self._owed: dict[int, int] = {}    # per world: answers sent for and not yet received
        self._arrived: dict[int, deque] = {}  # per world: answers read off the pipe, not yet taken
        self._forgotten: set[int] = set()     # closed worlds: answers still owed to them are dropped

    def world(self, time_step: float, sdf_voxel: float, gravity, deformable: bool = False) -> "RemoteWorld":
        """A new ClothWorld in the worker (same arguments as bullet.ClothWorld)."""
        self._next_world += 1
        return RemoteWorld(self, self._next_world, time_step, (float(time_step), float(sdf_voxel),
                                                             tuple(map(float, gravity)), bool(deformable)))

    def call(self, op: str, wid: int, args: tuple = (), kwargs: dict | None = None):
        """Send one call; wait for its answer when it has one (ANSWERED)."""
        self.send(op, wid, args, kwargs)
        return self.receive(wid) if op in ANSWERED else None

    def send(self, op: str, wid: int, args: tuple = (), kwargs: dict | None = None) -> None:
        """Send one call without waiting; an ANSWERED call's answer is then taken with receive(wid)
        (each world's answers come in the order its calls were sent; worlds share the worker, which
        runs calls in the order they arrive)."""
        with self._lock:
            if self._conn is None:
                raise WardrobeError("the cloth physics process was closed: make a new GarmentSim.")
            try:
                self._conn.send((op, wid, args, kwargs or {}))
            except (BrokenPipeError, ConnectionResetError, OSError):
                raise self._stopped() from None
            if op in ANSWERED:
                self._owed[wid] = self._owed.get(wid, 0) + 1

    def receive(self, wid: int):
        """The answer of world `wid`'s oldest ANSWERED call sent (raises its error as a WardrobeError).
        Other worlds' answers read meanwhile wait for their own receive()."""
        with self._lock:
            if self._conn is None:
                raise WardrobeError("the cloth physics process was closed: make a new GarmentSim.")
            if not self._owed.get(wid):
                raise WardrobeError("PhysicsHost.receive() with no answer owed: send an answered call first.")
            try:
                while not self._arrived.get(wid):
                    if not self._conn.poll(REPLY_TIMEOUT_S):
                        raise WardrobeError(f"the cloth physics process did not answer within {REPLY_TIMEOUT_S:.0f} "
                                            "s: it hung; the garment falls back to skinning.")
                    self._take()
            except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
                raise self._stopped() from None
            status, value = self._arrived[wid].popleft()
            self._owed[wid] -= 1
        if status == "err":
            raise WardrobeError(value)
        return value

    def _take(self) -> None:
        """Read one answer off the pipe into its world's queue."""
        wid, status, value = self._conn.recv()
        if wid not in self._forgotten:
            self._arrived.setdefault(wid, deque()).append((status, value))

    def forget(self, wid: int) -> None:
        """World `wid` is closed: drop what it was owed (the worker may still send it)."""
        with self._lock:
            self._owed.pop(wid, None)
            self._arrived.pop(wid, None)
            self._forgotten.add(wid)

    def ready(self, wid: int) -> bool:
        """Whether world `wid`'s oldest owed answer has arrived (or the worker is gone: receive() then
        says so)."""
        with self._lock:
            if self._conn is None or not self._owed.get(wid):
                return True
            try:
                while not self._arrived.get(wid) and self._conn.poll(0):
                    self._take()
            except (EOFError, OSError):
                return True
            return bool(self._arrived.get(wid))

    def _stopped(self) -> WardrobeError:
        try:
            self.process.wait(JOIN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        return WardrobeError(f"the cloth physics process stopped (exit code {self.process.returncode}): the garment "
                             "falls back to skinning; see the log above for its error.")

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """End the worker (safe to call twice)."""
        conn, self._conn = getattr(self, "_conn", None), None
        if conn is None:
            return
        try:
            conn.send(("quit", 0, (), {}))
        except (BrokenPipeError, OSError):
            pass
        conn.close()
        try:
            self.process.wait(JOIN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(JOIN_TIMEOUT_S)

    def __enter__(self) -> "PhysicsHost":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


class RemoteWorld:
    """A ClothWorld living in a PhysicsHost: the same methods, numpy in and out."""

    def __init__(self, host: PhysicsHost, wid: int, time_step: float, args: tuple):
        self.host, self.wid = host, wid
        self.time_step = float(time_step)
        self.steps = 0
        self._open = False
        host.call("open", wid, args)
        self._open = True

    def _send(self, op: str, *args, **kwargs):
        return self.host.call(op, self.wid, args, kwargs)

    def close(self) -> None:
        """Free the world in the worker (nothing to free when the worker is gone)."""
        if self._open and self.host._conn is not None:
            self._open = False
            try:
                self._send("close")
            except WardrobeError:
                pass
            self.host.forget(self.wid)

    def add_proxies(self, proxies, friction: float = 0.5) -> None:
        self._send("add_proxies", proxies, friction)

    def add_frames(self, positions, orientations) -> None:
        self._send("add_frames", positions, orientations)

    def move_proxies(self, centres, orientations, linear_velocity, angular_velocity) -> None:
        self._send("move_proxies", centres, orientations, linear_velocity, angular_velocity)

    def move_frames(self, positions, orientations, linear_velocity, angular_velocity=None) -> None:
        self._send("move_frames", positions, orientations, linear_velocity, angular_velocity)

    def add_cloth(self, positions, faces, mass: float = 0.2, margin: float = 0.005, **soft_body_args) -> int:
        return self._send("add_cloth", positions, faces, mass, margin, **soft_body_args)

    def anchor(self, cloth: int, nodes, frames) -> None:
        self._send("anchor", cloth, nodes, frames)

    def nodes(self, cloth: int) -> np.ndarray:
        return self._send("nodes", cloth)

    def nodes_of(self, cloths: list[int]) -> np.ndarray:
        return self._send("nodes_of", list(cloths))

    def request_nodes(self, cloths: list[int]) -> None:
        """Ask for nodes_of(cloths) without waiting (the worker first runs every call sent before)."""
        self.host.send("nodes_of", self.wid, (list(cloths),))

    def collect_nodes(self) -> np.ndarray:
        """The answer to request_nodes()."""
        return self.host.receive(self.wid)

    def nodes_ready(self) -> bool:
        """Whether collect_nodes() would answer at once (the worker is done with what was sent)."""
        return self.host.ready(self.wid)

    def move_cloth(self, cloth: int, rotation, translation) -> None:
        self._send("move_cloth", cloth, rotation, translation)

    def set_cloth_velocity(self, cloth: int, velocity) -> None:
        self._send("set_cloth_velocity", cloth, velocity)

    def push_node(self, cloth: int, node: int, force) -> None:
        self._send("push_node", cloth, node, force)

    def set_time_step(self, dt: float) -> None:
        if dt != self.time_step:
            self.time_step = float(dt)
            self._send("set_time_step", self.time_step)

    def step(self) -> None:
        self._send("step")
        self.steps += 1

    def sync(self) -> None:
        """Wait until every call sent so far has run (raises the first error among them)."""
        self._send("sync")
