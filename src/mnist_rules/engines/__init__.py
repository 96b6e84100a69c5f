"""Engines: interchangeable implementations of one training step, behind the small
interface in `engines.base`; `engines.modes` names them and their step modes, and
`engines.registry` makes one. Engine modules import torch, so they are loaded only
when an engine is created."""
