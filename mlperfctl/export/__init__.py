"""Write a run out for another platform (Kubernetes Jobs, Apptainer) from the same ContainerSpec."""
