"""The textbook numpy XOR program, the peer of examples/xor.nn: a 2-2-1 network of sigmoid units
trained on the four rows of XOR with mean squared error and full-batch gradient descent,
learning rate 2, weights from a normal distribution, biases at zero. The benchmark times the
whole process (interpreter start, `import numpy`, training, printing), as it times the whole
compiled xor program. Usage: numpy_xor.py [EPOCHS] (default 10000)."""
import sys

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
np.random.seed(1)
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)
W1 = np.random.normal(0, 1, (2, 2))
b1 = np.zeros(2)
W2 = np.random.normal(0, 1, (2, 1))
b2 = np.zeros(1)
lr = 2.0

for epoch in range(1, epochs + 1):
    A1 = sigmoid(X @ W1 + b1)
    A2 = sigmoid(A1 @ W2 + b2)
    loss = np.mean((A2 - Y) ** 2)
    dA2 = 2 * (A2 - Y) / Y.size
    dZ2 = dA2 * A2 * (1 - A2)
    dW2 = A1.T @ dZ2
    db2 = dZ2.sum(axis=0)
    dZ1 = (dZ2 @ W2.T) * A1 * (1 - A1)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
    if epoch == 1 or epoch % 1000 == 0:
        print(f"epoch {epoch:5d}/{epochs}  loss {loss:.6f}")

print(f"final loss {loss:.6f}")
for x, a in zip(X, A2):
    print(f"{x[0]:g} {x[1]:g} -> {a[0]:.4f}")
