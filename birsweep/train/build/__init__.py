"""What a run trains, built from its config: the BI-R network, its separate generator, image-level parts, and
the toolkit that methods build with."""
