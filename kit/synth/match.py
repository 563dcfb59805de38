"""The roster and a simple match: who plays, and where everyone and the ball are in each frame.

10 outfield players a side, two keepers and 1-3 referees with stable track ids; a small
simulation (formations that shift with the ball, passes on the ground and in the air, pressing)
stepped at the frame rate with bounded acceleration, so positions and gait are smooth.

Usage: from kit.synth.match import roster, simulate; people, looks, kits = roster(rng)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import pitch
from ..contract import GOALKEEPER, PLAYER, REFEREE
from .people import Kit, Look, random_look, team_kits
from .presets import Difficulty

BALL_RADIUS = 1.1  # template px: 11 cm


@dataclass(frozen=True)
class Person:
    track_id: int
    cls_id: int
    team: int | None   # ground-truth team: players only
    squad: int         # 1 or 2 for players and keepers (who they play for), 0 for officials
    role: str          # player | keeper | referee | assistant
    look: int          # index into the clip's looks
    height: float      # template px
    vmax: float        # template px per second


BALL_TRACK_ID = 0


def roster(rng: np.random.Generator) -> tuple[list[Person], list[Look], dict[str, Kit]]:
    """10 outfield players a side (track ids 1-20), two keepers (21, 22), 1-3 referees (23-25).

    Keepers play for a squad but carry no ground-truth team: the validator's team metric
    reads players only and the wire format has no team for a goalkeeper class.
    """
    kits = team_kits(rng)
    looks: list[Look] = []
    people: list[Person] = []

    def add(kit: Kit, keeper: bool, **kw) -> None:
        looks.append(random_look(rng, kit, keeper))
        people.append(Person(look=len(looks) - 1, height=float(rng.uniform(17.0, 19.3)), **kw))

    for squad in (1, 2):
        for k in range(10):
            add(kits[f"team{squad}"], False, track_id=(squad - 1) * 10 + k + 1, cls_id=PLAYER, team=squad,
                squad=squad, role="player", vmax=float(rng.uniform(62, 80)))
    for squad in (1, 2):
        add(kits[f"keeper{squad}"], True, track_id=20 + squad, cls_id=GOALKEEPER, team=None, squad=squad,
            role="keeper", vmax=55.0)
    n_refs = int(rng.choice([1, 2, 3], p=[0.2, 0.3, 0.5]))
    for k in range(n_refs):
        add(kits["referee"], False, track_id=23 + k, cls_id=REFEREE, team=None, squad=0,
            role="referee" if k == 0 else "assistant", vmax=65.0)
    return people, looks, kits


_FORMATIONS = (  # (share of the pitch length from own goal, share of its width) per outfield player
    ((.18, .12), (.16, .37), (.16, .63), (.18, .88), (.42, .12), (.38, .38), (.38, .62), (.42, .88), (.62, .4),
     (.62, .6)),
    ((.18, .12), (.16, .37), (.16, .63), (.18, .88), (.38, .3), (.35, .5), (.38, .7), (.62, .15), (.66, .5),
     (.62, .85)),
    ((.16, .25), (.15, .5), (.16, .75), (.38, .08), (.36, .32), (.33, .5), (.36, .68), (.38, .92), (.62, .4),
     (.62, .6)),
)


@dataclass
class Track:
    """The simulated clip: per frame, every person's ground position, velocity, gait phase; the ball."""

    pos: np.ndarray    # (n, people, 2)
    vel: np.ndarray    # (n, people, 2)
    phase: np.ndarray  # (n, people)
    ball: np.ndarray   # (n, 3): X, Y, Z of the ball's centre


class _Play:
    """The state of the simulated match at one instant, and the steps that advance it by one frame."""

    def __init__(self, rng: np.random.Generator, people: list[Person], fps: float, diff: Difficulty):
        self.rng, self.diff, self.dt = rng, diff, 1.0 / fps
        self.L, self.Wd = float(pitch.TEMPLATE_W), float(pitch.TEMPLATE_H)
        self.n = n = len(people)
        self.squad = squad = np.array([p.squad for p in people])
        self.role = np.array([p.role for p in people])
        self.vmax = np.array([p.vmax for p in people])
        self.outfield = outfield = self.role == "player"
        attack1 = 1.0 if rng.random() < 0.5 else -1.0
        self.direction = np.where(squad == 1, attack1, -attack1)            # +1: attacks towards +X
        self.own_goal = np.where(self.direction > 0, 0.0, self.L)
        self.form = np.zeros((n, 2))
        for s in (1, 2):
            self.form[(squad == s) & outfield] = np.array(_FORMATIONS[rng.integers(len(_FORMATIONS))])
        self.amp = rng.uniform(12, 40, (n, 2))
        self.freq = rng.uniform(0.04, 0.2, (n, 2, 2))
        self.phase0 = rng.uniform(0, 2 * np.pi, (n, 2, 2))
        self.far_assistant_half = rng.random() < 0.5
        self.ball = np.array([rng.uniform(300, 750), rng.uniform(150, 530), BALL_RADIUS])
        self.holder = int(rng.choice(np.flatnonzero(outfield)))
        self.mode, self.release_t, self.flight = "held", rng.uniform(0.5, 1.5), None
        self.pos = np.zeros((n, 2))
        self.vel = np.zeros((n, 2))
        self.gait = rng.uniform(0, 2 * np.pi, n)

    def owner(self) -> int:
        """The squad that has the ball, or will when the pass in flight arrives."""
        return self.squad[self.holder] if self.mode == "held" else self.squad[self.flight["receiver"]]

    def anchors(self, t: float) -> np.ndarray:
        """Formation spots: slid with the ball, pushed up by the side that has it, wandering a little."""
        ball, L, Wd, crowd = self.ball, self.L, self.Wd, self.diff.crowding
        a_ball = (ball[0] - self.own_goal) * self.direction
        a = self.form[:, 0] * 0.72 * L + 0.42 * (a_ball - 0.5 * L) + np.where(self.squad == self.owner(), 35.0, -25.0)
        x = self.own_goal + self.direction * a
        y = 340 + (self.form[:, 1] - 0.5) * 0.82 * Wd + 0.3 * (ball[1] - 340)
        x += crowd * (ball[0] - x)
        y += crowd * (ball[1] - y)
        tt = 2 * np.pi * self.freq * t + self.phase0
        wander = self.amp * (0.6 * np.sin(tt[:, :, 0]) + 0.4 * np.sin(tt[:, :, 1]))
        return np.stack([x, y], 1) + wander

    def move_ball(self, t: float) -> None:
        """Release a pass when it is time, fly it (rolling or lofted), or keep it at the holder's feet."""
        rng, role, ball = self.rng, self.role, self.ball
        if self.mode == "held" and t >= self.release_t:
            self.flight = _start_pass(rng, self.holder, self.pos, self.vel, self.squad, role, self.direction, ball,
                                     self.diff, t)
            self.mode = "flight"
        if self.mode == "flight":
            flight = self.flight
            u = (t - flight["t0"]) / flight["T"]
            if u >= 1:
                self.holder, self.mode = flight["receiver"], "held"
                self.release_t = t + (rng.uniform(1.2, 2.5) if role[self.holder] == "keeper" else rng.uniform(0.4, 1.8))
            elif flight["lofted"]:
                ball[:2] = flight["start"] + (flight["end"] - flight["start"]) * u
                ball[2] = BALL_RADIUS + 4 * flight["peak"] * u * (1 - u)
            else:
                ball[:2] = flight["start"] + (flight["end"] - flight["start"]) * (1 - (1 - u) ** 1.6)
                ball[2] = BALL_RADIUS
        if self.mode == "held":
            h = self.holder
            sp = np.linalg.norm(self.vel[h])
            ahead = self.vel[h] / sp * 5 if sp > 5 else np.array([self.direction[h] * 4, 0.0])
            ball[:2] += (self.pos[h] + ahead - ball[:2]) * min(1.0, 14 * self.dt)
            ball[2] = BALL_RADIUS

    def targets(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Where everyone wants to be, and their speed caps: formation, press and cover, the ball's people."""
        pos, ball, role, holder, own_goal = self.pos, self.ball, self.role, self.holder, self.own_goal
        target = self.anchors(t)
        cap = self.vmax.copy()
        chasers = np.flatnonzero(self.outfield & (self.squad != self.owner()))
        order = chasers[np.argsort(np.linalg.norm(pos[chasers] - ball[:2], axis=1))]
        target[order[0]] = ball[:2]
        target[order[1]] = ball[:2] + 45 * _unit(np.array([own_goal[order[1]], 340.0]) - ball[:2])
        if self.mode == "held" and role[holder] == "player":
            target[holder] = (pos[holder] + np.array([self.direction[holder] * 110, 0.0])
                              + (target[holder] - pos[holder]) * 0.3)
            cap[holder] = 55.0
        elif self.mode == "held":
            target[holder] = pos[holder]
        else:
            target[self.flight["receiver"]] = self.flight["end"]
        self._officials_and_keepers(target)
        inside = role != "assistant"
        target[inside] = np.clip(target[inside], [15, 12], [self.L - 15, self.Wd - 12])
        return target, cap

    def _officials_and_keepers(self, target: np.ndarray) -> None:
        """Keepers guard their goal, the referee keeps a diagonal off the ball, assistants run their touchline."""
        ball, role = self.ball, self.role
        for k in np.flatnonzero(role == "keeper"):
            gx = self.own_goal[k] + self.direction[k] * min(22 + 0.06 * abs(ball[0] - self.own_goal[k]), 110)
            if not (self.mode == "held" and self.holder == k):
                target[k] = [gx, np.clip(340 + 0.25 * (ball[1] - 340), 300, 380)]
        for k in np.flatnonzero(role == "referee"):
            target[k] = [ball[0] - np.sign(ball[0] - 525 + 1e-6) * 100, ball[1] + (100 if ball[1] < 340 else -100)]
        for j, k in enumerate(np.flatnonzero(role == "assistant")):
            far = j == 0
            right_half = far == self.far_assistant_half
            lo, hi = (525.0, self.L - 20) if right_half else (20.0, 525.0)
            target[k] = [np.clip(ball[0], lo, hi), -20.0 if far else self.Wd + 20]

    def move_people(self, target: np.ndarray, cap: np.ndarray) -> None:
        """Bounded acceleration towards a capped desired velocity, teammates keeping apart; gait advances."""
        pos, squad, n, dt = self.pos, self.squad, self.n, self.dt
        desired = (target - pos) * 1.6
        speed = np.linalg.norm(desired, axis=1, keepdims=True)
        desired *= np.minimum(1.0, cap[:, None] / np.maximum(speed, 1e-9))
        diff_ij = pos[:, None, :] - pos[None, :, :]
        dist = np.linalg.norm(diff_ij, axis=2) + np.eye(n) * 1e9
        same = (squad[:, None] == squad[None, :]) | (squad[:, None] == 0) | (squad[None, :] == 0)
        push = np.where(same & (dist < 16), (16 - dist) / 16 * 45, 0.0)
        desired += (diff_ij / dist[:, :, None] * push[:, :, None]).sum(1)
        dv = desired - self.vel
        dv_n = np.linalg.norm(dv, axis=1, keepdims=True)
        self.vel = self.vel + dv * np.minimum(1.0, 55 * dt / np.maximum(dv_n, 1e-9))
        self.pos = pos + self.vel * dt
        sp = np.linalg.norm(self.vel, axis=1)
        self.gait = (self.gait + 2 * np.pi * sp / (22 + 0.25 * sp) * dt) % (2 * np.pi)


def simulate(rng: np.random.Generator, people: list[Person], n_frames: int, fps: float,
             diff: Difficulty) -> Track:
    """A few seconds of plausible play, stepped at the frame rate.

    Each team holds a formation that slides with the ball and pushes up when it has it;
    every player wanders a little around the formation spot. The ball holder dribbles
    forward, then passes, mostly to a teammate, on the ground or lofted (the flight time
    gives the height, as a thrown ball's would); the receiver runs to meet it, the nearest
    opponent presses, the next one covers. Keepers guard their goal, the referee keeps a
    diagonal off the ball, assistants run their touchline. Velocities change with bounded
    acceleration, so positions and gait are smooth. Two seconds of warm-up are not recorded.
    """
    play = _Play(rng, people, fps, diff)
    n, warmup = play.n, int(2 * fps)
    out_pos, out_vel, out_phase, out_ball = (np.zeros((n_frames, n, 2)), np.zeros((n_frames, n, 2)),
                                             np.zeros((n_frames, n)), np.zeros((n_frames, 3)))
    for step in range(-warmup, n_frames):
        t = (step + warmup) * play.dt
        if step == -warmup:  # a first guess, so that "nearest to the ball" means something
            play.pos = play.anchors(0.0)
        play.move_ball(t)
        target, cap = play.targets(t)
        if step == -warmup:  # everyone starts near where they want to be
            play.pos = target + rng.normal(0, 8, (n, 2))
            play.pos[play.holder] = play.ball[:2]
        play.move_people(target, cap)
        if step >= 0:
            out_pos[step], out_vel[step], out_phase[step], out_ball[step] = play.pos, play.vel, play.gait, play.ball
    return Track(out_pos, out_vel, out_phase, out_ball)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _start_pass(rng, holder, pos, vel, squad, role, direction, ball, diff: Difficulty, t: float) -> dict:
    """Pick a receiver (mostly a teammate ahead and not too far; sometimes a turnover) and a flight."""
    L, Wd = float(pitch.TEMPLATE_W), float(pitch.TEMPLATE_H)
    turnover = rng.random() < 0.12
    own = squad == squad[holder]
    cand = np.flatnonzero((own if not turnover else (squad != squad[holder]) & (squad > 0)) & (role != "assistant"))
    cand = cand[cand != holder]
    d = np.linalg.norm(pos[cand] - pos[holder], axis=1)
    if role[holder] == "keeper":
        w = np.exp(-np.abs(d - 450) / 200)
    else:
        fwd = (pos[cand, 0] - pos[holder, 0]) * direction[holder]
        w = np.exp(-d / 300) * (d > 60) * (1 + 0.6 * (fwd > 0))
    w = w * np.where(role[cand] == "keeper", 0.2, 1.0) + 1e-9
    receiver = int(cand[rng.choice(len(cand), p=w / w.sum())])
    dist = float(np.linalg.norm(pos[receiver] - ball[:2]))
    loft_p = diff.loft_share * (2.0 if dist > 300 else 0.4)
    lofted = rng.random() < (0.7 if role[holder] == "keeper" else loft_p)
    T = float(np.clip(0.9 + dist / 260, 1.2, 3.0) if lofted else np.clip(dist / rng.uniform(140, 220), 0.35, 2.5))
    end = np.clip(pos[receiver] + vel[receiver] * T * 0.6, [20, 15], [L - 20, Wd - 15])
    return {"receiver": receiver, "start": ball[:2].copy(), "end": end, "t0": t, "T": T, "lofted": lofted,
            "peak": 9.81 * T * T / 8 * 10}
