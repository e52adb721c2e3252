"""The verified model store on the workstation, the catalog of models to chat with, and the
import workflow that the wizard and `strongroom import` share."""
