"""Randomized smoothing: CERTIFY and PREDICT of the smoothed classifier g (certify: a lower bound), g under the EoT
attacks beside its certificates (smoothed: an upper bound) and the checks that the two bracket g (bracket). What a
trial may ask for is checked before launch by trainables.spec.smoothing."""
