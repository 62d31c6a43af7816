"""The transfer-learning study: a source model's first k blocks, adapted to a target domain with few
labelled windows, against a baseline trained on those windows only.

Stages (one module each): ``grid`` (the study file or flags -> points), ``protocol`` (windows, splits
and nested adaptation subsets), ``adapt`` (the strategies), ``run`` (engines, cache, failures),
``ray_train`` (data-parallel source training), ``report`` and ``plots``. Nothing heavy is imported here.
"""
