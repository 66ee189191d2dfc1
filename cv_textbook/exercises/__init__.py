"""Exercise checks for the chapter notebooks: one module per chapter.

How to use them in a notebook::

    from cv_textbook.exercises import ch01

    def output_size(input_size, kernel_size, stride, padding):
        return ...  # your formula

    ch01.check_output_size(output_size)   # prints feedback, returns True or False

    ch01.check_param_count(1234)           # questions with a number take the number

Each ``check_*`` function compares your answer with a reference that the package
computes itself (with :mod:`cv_textbook.analysis`, :mod:`cv_textbook.metrics` or by building
the real model), so the reference never drifts from the code the notebooks use. What you see:

* ``Correct! ...`` and the return value ``True`` - with a sentence on why it is right.
* ``Not quite. ...`` and ``False`` - a hint. The checks recognise the usual mistakes
  (forgetting the bias, integer division, ignoring the stride, ...) and name the one your
  answer points to; otherwise they say what was expected in general terms.
* ``Fill in your answer ...`` and ``False`` - while the answer is still ``None`` (or ``...``),
  or your function still returns ``None`` or raises ``NotImplementedError``.

A check never raises because of a wrong answer: an exception inside your function is
reported as a hint instead. Each question's text is available as a module constant
(e.g. ``ch01.PARAM_COUNT_QUESTION``) so a notebook can print it.

Chapters and their checks:

* :mod:`~cv_textbook.exercises.ch00` (setup and data): ``check_count_class``,
  ``check_normalise``, ``check_brightest_class``.
* :mod:`~cv_textbook.exercises.ch01` (convolution basics): ``check_output_size``,
  ``check_param_count``, ``check_receptive_field``, ``check_gap_cnn`` (build a network: the
  check compares its parameter count and, with the reference's weights copied, its outputs).
* :mod:`~cv_textbook.exercises.ch02` (LeNet-5): ``check_s4_shape``, ``check_c3_params``,
  ``check_modern_change``, ``check_paper_features`` (build the 1998 paper's C1 to S4).
* :mod:`~cv_textbook.exercises.ch03` (AlexNet and ZFNet): ``check_fc_share``, ``check_two_towers``
  (build a grouped convolution from two convolutions on the channel halves), ``check_224_input``.
* :mod:`~cv_textbook.exercises.ch04` (VGG): ``check_stack_weights``, ``check_vgg_block`` (build a
  VGG block), ``check_fc1_params``.
* :mod:`~cv_textbook.exercises.ch05` (GoogLeNet): ``check_output_depth``,
  ``check_reduction_savings``, ``check_inception_module`` (build an Inception module).
* :mod:`~cv_textbook.exercises.ch06` (ResNet): ``check_block_shape``, ``check_block_params``,
  ``check_depth_formula``, ``check_residual_block`` (build a residual block with its shortcut).
* :mod:`~cv_textbook.exercises.ch07` (DenseNet): ``check_block_channels``, ``check_dense_layer``
  (build a dense layer: BN-ReLU-1x1 conv, BN-ReLU-3x3 conv, concatenation), ``check_bc_channels``.
* :mod:`~cv_textbook.exercises.ch08` (SENet): ``check_se_params``, ``check_se_block`` (build a
  squeeze-and-excitation block), ``check_se_overhead``.
* :mod:`~cv_textbook.exercises.ch09` (Xception): ``check_separable_savings``,
  ``check_separable_by_hand`` (build SeparableConv2D from a DepthwiseConv2D and a 1x1 Conv2D),
  ``check_middle_block`` (build a middle-flow block).
* :mod:`~cv_textbook.exercises.ch10` (U-Net-like Xception segmentation):
  ``check_down_block_shape``, ``check_separable_params``, ``check_iou_by_hand``,
  ``check_down_block`` (build the encoder's separable down block).
* :mod:`~cv_textbook.exercises.ch11` (object detection): ``check_iou`` (build the IoU of two sets
  of boxes), ``check_nms`` (build greedy non-maximum suppression), ``check_anchor_count``.

Importing a chapter module is cheap: data and models are loaded only when a check runs.
The helpers every check shares (feedback, reading an answer, the mistake table) live in
``_feedback``.
"""

__all__ = ["ch00", "ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08", "ch09", "ch10", "ch11"]
