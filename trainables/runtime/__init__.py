"""What a trial needs from its process: TensorFlow sized to its Ray allotment (resources), nothing left behind
between trials in a reused worker (isolation), and where its time and memory went (timing)."""
