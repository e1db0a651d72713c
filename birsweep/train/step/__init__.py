"""One optimiser step, three ways: eager, compiled as one graph, and the classifier methods' step."""
