"""Reading datasets: source detection, FiftyOne loading, the sample table, file facts, predictions."""
