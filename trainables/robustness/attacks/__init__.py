"""The attacks' code, one file per attack (pgd, apgd, square, fmn, eot), each ending in the `Kernel` its spec names
(trainables.spec.attacks); shared: the compiled model (compiled), the losses (losses) and the context, counters,
random starts and kernel lookup (context). Every module imports TensorFlow at its top: only a running evaluation
imports them."""
