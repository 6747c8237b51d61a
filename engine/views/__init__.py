"""What views show, without Qt: a run's task graph (``runview``) and the model browser (``browse``)."""
