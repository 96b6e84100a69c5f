"""Why a size wins: the empirical model of large-batch training (McCandlish et al.
2018) measured and fitted. The gradient noise scale (noise_scale), steps to a target
against samples per update, S(B) (steps_fit), the cost of one update, t(B) (cost_fit),
and what they predict together, the best size (prediction). Pure math over torch tensors
and recorded numbers: no training, no printing."""
