"""The ball, for football (clip) elements: a small heatmap model that finds a 3-7 px ball.

The reference detector never found the ball (DetectBall final 0.01 on the kit's synthetic clips,
recall 0.00 on labelled real frames): at 640 px letterboxed, with a stride-8 head and NMS tuned
for players, the ball is a pixel or two. So the ball has its own model and its own path:

- `model`: the network (stride 4, sub-pixel offset, size), its targets, loss and ONNX export;
- `data`: labelled frames at the miner's work size, from YOLO exports (real) and synthetic clips;
- `train`: crops with broadcast augmentation (scale, motion blur, occlusion), AdamW, ONNX out;
- `evaluate`: per-frame precision and recall at the validator's adaptive threshold through the
  bundle's own miner, the DetectBall element on clips, a gallery of misses;
- `cli`: `tvkit ball train` and `tvkit ball evaluate`.

The miner (chute_template/bundle/miner.py) decodes `ball.onnx` and picks one ball per frame along
the batch's frames (`ball_path`); `tvkit package` ships the reference `ball.onnx`
(chute_template/reference/ball/) unless given another or `--ball-model none`.

Usage: tvkit ball evaluate --bundle build/bundle --real ../shared/data/real/football-players-detection-v1
"""
