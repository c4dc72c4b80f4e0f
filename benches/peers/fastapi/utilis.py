# The tutorial's utilis.py, verbatim but for the output path: trains the iris random forest and
# writes model.pkl next to this file.
import os

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
import joblib

# Load the iris dataset
iris = load_iris()
X, y = iris.data, iris.target

# Train a random forest classifier
model = RandomForestClassifier()
model.fit(X, y)

# Save the trained model
joblib.dump(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.pkl"))
