"""What did the network look at? Saliency maps with the checks that make them trustworthy.

* :func:`grad_cam` - gradient-weighted class-activation maps (Keras 3: TensorFlow, JAX, torch);
* :func:`occlusion` - the forward-only baseline that works for any model;
* :func:`randomization_test` - Adebayo et al.'s sanity check: maps must die with the weights;
* :func:`pointing_game` - does the map's maximum fall inside the true lesion? With chance level
  and a bootstrap CI;
* :func:`feature_maps_and_gradients`, :func:`last_conv_layer` - Grad-CAM's parts.

Importing this package does not import Keras; the functions do.

Used in lesson 09 and by ``medlearn train`` (``gradcam.png``).
"""
from medlearn.explain._common import ExplainError
from medlearn.explain.gradcam import cam_from_parts, feature_maps_and_gradients, grad_cam, last_conv_layer
from medlearn.explain.occlusion import occlusion
from medlearn.explain.pointing import PointingGame, pointing_game
from medlearn.explain.sanity import RandomizationTest, randomization_test, rank_correlation

__all__ = ["ExplainError", "grad_cam", "occlusion", "randomization_test", "pointing_game", "PointingGame",
           "RandomizationTest", "rank_correlation", "feature_maps_and_gradients", "last_conv_layer",
           "cam_from_parts"]
