"""AR try-on maths in numpy: camera intrinsics, placing the avatar on the 2D landmarks, masks."""
