"""The figures: their shared style, Figures 1 to 3, axes, flow diagram, panels."""
