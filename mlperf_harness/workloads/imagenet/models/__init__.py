"""Model definitions the harness builds itself (no torchvision in the images)."""
