"""The latent space: deprivation boundaries (linear SVMs on inverted photos), the normals archive, and walks along them."""
