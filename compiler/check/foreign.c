/* foreign: the table of Keras and PyTorch names and nnc's spellings (contract in foreign.h). */
#include "foreign.h"

#include <stddef.h>
#include <string.h>

static const struct {
  ForeignPlace place;
  const char *name, *hint;
} foreign[] = {
  /* settings of a train block (Keras's fit(...) and compile(...)) */
  {FOREIGN_SETTING, "batch_size", "did you mean 'batch'? e.g. batch = 32"},
  {FOREIGN_SETTING, "validation_data",
   "did you mean 'validate'? e.g. validate = csv(\"valid.csv\")"},
  {FOREIGN_SETTING, "learning_rate",
   "the learning rate is an argument of the optimizer: optimizer = adam(lr = 0.001)"},
  {FOREIGN_SETTING, "lr",
   "the learning rate is an argument of the optimizer: optimizer = adam(lr = 0.001)"},
  {FOREIGN_SETTING, "momentum",
   "momentum is an argument of the optimizer: optimizer = sgd(lr = 0.01, momentum = 0.9)"},
  {FOREIGN_SETTING, "weight_decay",
   "weight decay is an argument of the optimizer: optimizer = adamw(weight_decay = 0.01)"},
  {FOREIGN_SETTING, "num_epochs", "did you mean 'epochs'?"},
  {FOREIGN_SETTING, "max_epochs", "did you mean 'epochs'?"},
  {FOREIGN_SETTING, "patience", "did you mean 'early_stopping'? e.g. early_stopping = 3"},
  {FOREIGN_SETTING, "loss", "the loss is a statement of the model block: loss = mse(p, y)"},
  {FOREIGN_SETTING, "metrics",
   "nnc reports the accuracy it can tell from the loss; see 'Accuracy' in lang/reference.md"},
  {FOREIGN_SETTING, "lr_scheduler", "did you mean 'schedule'? e.g. schedule = cosine"},
  {FOREIGN_SETTING, "scheduler", "did you mean 'schedule'? e.g. schedule = cosine"},
  /* functions of a model (Keras's losses and layers, PyTorch's modules) */
  {FOREIGN_FUNCTION, "categorical_crossentropy",
   "did you mean 'cross_entropy'? cross_entropy(softmax(z), y) takes probabilities, as Keras's "
   "does"},
  {FOREIGN_FUNCTION, "sparse_categorical_crossentropy",
   "did you mean 'cross_entropy'? with 'target y : class(K)' the labels are integers: "
   "cross_entropy(softmax(z), y)"},
  {FOREIGN_FUNCTION, "CrossEntropyLoss",
   "did you mean 'cross_entropy_with_logits'? it takes logits, as PyTorch's does"},
  {FOREIGN_FUNCTION, "binary_crossentropy", "did you mean 'binary_cross_entropy'?"},
  {FOREIGN_FUNCTION, "BCELoss", "did you mean 'binary_cross_entropy'?"},
  {FOREIGN_FUNCTION, "BCEWithLogitsLoss", "did you mean 'binary_cross_entropy_with_logits'?"},
  {FOREIGN_FUNCTION, "NLLLoss", "did you mean 'nll'?"},
  {FOREIGN_FUNCTION, "mean_squared_error", "did you mean 'mse'?"},
  {FOREIGN_FUNCTION, "MSELoss", "did you mean 'mse'?"},
  {FOREIGN_FUNCTION, "mean_absolute_error", "did you mean 'mae'?"},
  {FOREIGN_FUNCTION, "L1Loss", "did you mean 'mae'?"},
  {FOREIGN_FUNCTION, "HuberLoss", "did you mean 'huber'?"},
  {FOREIGN_FUNCTION, "Dense", "did you mean 'dense'? e.g. h = dense(x, 64, relu)"},
  {FOREIGN_FUNCTION, "Linear", "did you mean 'dense'? e.g. h = dense(x, 64, relu)"},
  {FOREIGN_FUNCTION, "Conv2D", "did you mean 'conv2d'?"},
  {FOREIGN_FUNCTION, "MaxPooling2D", "did you mean 'max_pool'?"},
  {FOREIGN_FUNCTION, "MaxPool2d", "did you mean 'max_pool'?"},
  {FOREIGN_FUNCTION, "Flatten", "did you mean 'flatten'?"},
  {FOREIGN_FUNCTION, "Dropout", "did you mean 'dropout'?"},
  {FOREIGN_FUNCTION, "matmul", "write the matrix product as a @ b"},
  /* arguments of calls */
  {FOREIGN_ARGUMENT, "learning_rate", "did you mean 'lr'? e.g. adam(lr = 0.001)"},
  {FOREIGN_ARGUMENT, "use_bias", "did you mean 'bias'? e.g. dense(x, 10, bias = false)"},
  {FOREIGN_ARGUMENT, "kernel_initializer",
   "did you mean 'init'? e.g. dense(x, 10, init = he_normal)"},
  {FOREIGN_ARGUMENT, "epsilon", "did you mean 'eps'?"},
  {FOREIGN_ARGUMENT, "beta_1", "did you mean 'beta1'?"},
  {FOREIGN_ARGUMENT, "beta_2", "did you mean 'beta2'?"},
  {FOREIGN_ARGUMENT, "from_logits",
   "a loss on logits has its own name: cross_entropy_with_logits(z, y), "
   "binary_cross_entropy_with_logits(z, y)"},
};

const char *foreign_hint(ForeignPlace place, const char *name) {
  for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++)
    if (foreign[i].place == place && !strcmp(foreign[i].name, name))
      return foreign[i].hint;
  return NULL;
}
