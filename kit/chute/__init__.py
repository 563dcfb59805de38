"""The chute: render it from `chute_template/`, dry-run it under the real chutes runtime, rehearse it."""
