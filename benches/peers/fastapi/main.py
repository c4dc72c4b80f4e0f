# The tutorial's ML API ("Securing ML APIs with FastAPI", ../shared/seed/), combined as its
# conclusion says: OAuth2 password flow with JWT (PyJWT, HS256), role-based access (only `admin`
# may predict), Pydantic input validation, slowapi rate limits, and Fernet /encrypt/ and /decrypt/.
# It is the peer of ml-api in benches/load.sh; the code is the tutorial's, with only these changes:
#
# - `get_current_user`, which the tutorial's `role_checker` uses but never shows, is written here
#   (decode the bearer JWT, look the subject up in `users_db`).
# - The rate limits and secrets come from the environment, defaulting to the tutorial's values,
#   so that the load run can raise the limits (FASTAPI_TOKEN_RATE, FASTAPI_PREDICT_RATE).
# - The tutorial's first protection, the API key (`get_api_key`, header `api-key`), is kept on a
#   second route, POST /predict-apikey, with the same rate limit (the tutorial later replaces it
#   by OAuth2 on /predict).
# - /encrypt/ and /decrypt/ are served without authentication, as in the tutorial (it shows them
#   in a separate app with no dependency); /encrypt and /decrypt without the slash redirect there
#   (FastAPI's default), so the benchmark calls /encrypt/ directly.
# - Served over plain HTTP by benches/load.sh (ml-api runs with MLGUARD_NO_TLS=1 for parity).
import os
from typing import Optional

import joblib
import jwt
from cryptography.fernet import Fernet
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

HERE = os.path.dirname(os.path.abspath(__file__))

TOKEN_RATE = os.environ.get("FASTAPI_TOKEN_RATE", "5/minute")
PREDICT_RATE = os.environ.get("FASTAPI_PREDICT_RATE", "10/minute")

# Load the trained model (utilis.py writes it)
model = joblib.load(os.path.join(HERE, "model.pkl"))


# Define the request body using Pydantic
class PredictionRequest(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


# Define a user model with role
class User(BaseModel):
    username: str
    password: str
    role: str


# Dummy user data
users_db = {
    "admin": {"username": "admin", "password": "password", "role": "admin"},
    "user": {"username": "user", "password": "password", "role": "user"},
}

# Define the API key
API_KEY = os.environ.get("FASTAPI_API_KEY", "your_api_key_here")

SECRET_KEY = os.environ.get("FASTAPI_SECRET_KEY", "your-secret-key")

# OAuth2 scheme using password flow
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")

limiter = Limiter(key_func=get_remote_address)
app = FastAPI()
app.state.limiter = limiter
app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)

# Generate a key for encryption and decryption
key = Fernet.generate_key()
cipher_suite = Fernet(key)


# Models
class Item(BaseModel):
    plaintext: str


class EncryptedItem(BaseModel):
    ciphertext: str


# Dependency to verify the API key
def get_api_key(api_key: str = Header(...)):
    if api_key != API_KEY:
        raise HTTPException(status_code=403, detail="Could not validate credentials")


def authenticate_user(username: str, password: str) -> Optional[User]:
    user = users_db.get(username)
    if user and user["password"] == password:
        return User(**user)
    return None


def create_access_token(data: dict):
    return jwt.encode(data, SECRET_KEY)


# Not shown in the tutorial; the obvious reading of it.
def get_current_user(token: str = Depends(oauth2_scheme)) -> User:
    credentials_exception = HTTPException(
        status_code=401,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        payload = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    except jwt.exceptions.InvalidTokenError:
        raise credentials_exception
    user = users_db.get(payload.get("sub"))
    if user is None:
        raise credentials_exception
    return User(**user)


# Role-based access control dependency
def role_checker(required_role: str):
    def role_dependency(current_user: User = Depends(get_current_user)):
        if current_user.role != required_role:
            raise HTTPException(
                status_code=403,
                detail="Operation not permitted",
            )
        return current_user

    return role_dependency


@app.post("/token")
@limiter.limit(TOKEN_RATE)
async def login_for_access_token(request: Request, form_data: OAuth2PasswordRequestForm = Depends()):
    user = authenticate_user(form_data.username, form_data.password)
    if not user:
        raise HTTPException(
            status_code=401,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    access_token = create_access_token({"sub": user.username})
    return {"access_token": access_token, "token_type": "bearer"}


@app.post("/predict")
@limiter.limit(PREDICT_RATE)
async def predict(
    request: Request,
    prediction_request: PredictionRequest,
    token: str = Depends(oauth2_scheme),
    current_user: User = Depends(role_checker("admin")),
):
    try:
        # Decode JWT token
        payload = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
        # Convert request data to a format suitable for the model
        data = [
            [
                prediction_request.sepal_length,
                prediction_request.sepal_width,
                prediction_request.petal_length,
                prediction_request.petal_width,
            ]
        ]
        # Make a prediction
        prediction = model.predict(data)
        # Return the prediction as a response
        return {"prediction": int(prediction[0])}
    except jwt.exceptions.DecodeError:
        raise HTTPException(
            status_code=401,
            detail="Could not validate credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )


# The tutorial's API-key version of /predict, kept beside the OAuth2 one.
@app.post("/predict-apikey")
@limiter.limit(PREDICT_RATE)
def predict_apikey(
    request: Request,
    prediction_request: PredictionRequest,
    api_key: str = Depends(get_api_key),
):
    data = [
        [
            prediction_request.sepal_length,
            prediction_request.sepal_width,
            prediction_request.petal_length,
            prediction_request.petal_width,
        ]
    ]
    prediction = model.predict(data)
    return {"prediction": int(prediction[0])}


@app.post("/encrypt/", response_model=EncryptedItem)
async def encrypt_item(item: Item):
    plaintext = item.plaintext.encode("utf-8")
    ciphertext = cipher_suite.encrypt(plaintext)
    return {"ciphertext": ciphertext.decode("utf-8")}


# Decryption endpoint
@app.post("/decrypt/", response_model=Item)
async def decrypt_item(encrypted_item: EncryptedItem):
    ciphertext = encrypted_item.ciphertext.encode("utf-8")
    try:
        plaintext = cipher_suite.decrypt(ciphertext)
        return {"plaintext": plaintext.decode("utf-8")}
    except Exception:
        raise HTTPException(status_code=400, detail="Decryption failed")
