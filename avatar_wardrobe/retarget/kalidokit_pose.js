// Runs Kalidokit's pose solver (npm kalidokit, MIT) on MediaPipe landmarks for `bench retarget`.
// stdin: a JSON list of frames {"world": 33 x [x, y, z, visibility], "image": 33 x [x, y, z, visibility]}
// (MediaPipe's pose_world_landmarks and pose_landmarks); stdout: a JSON list of Kalidokit.Pose.solve
// results as Euler angles (radians, XYZ order), null where it returned nothing.
const Kalidokit = require("kalidokit/dist/kalidokit.umd.js");

const asPoints = (rows) => rows.map(([x, y, z, visibility]) => ({ x, y, z, visibility }));
const euler = (e) => (e ? { x: e.x, y: e.y, z: e.z } : null);
const PARTS = ["RightUpperArm", "RightLowerArm", "LeftUpperArm", "LeftLowerArm", "RightUpperLeg",
  "RightLowerLeg", "LeftUpperLeg", "LeftLowerLeg", "Spine"];

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const frames = JSON.parse(input);
  const out = frames.map((f) => {
    const rig = Kalidokit.Pose.solve(asPoints(f.world), asPoints(f.image), { runtime: "mediapipe" });
    if (!rig) return null;
    const result = { Hips: euler(rig.Hips.rotation) };
    for (const part of PARTS) result[part] = euler(rig[part]);
    return result;
  });
  process.stdout.write(JSON.stringify(out));
});
