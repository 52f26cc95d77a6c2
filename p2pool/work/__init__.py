"""Work generation: block templates and the sharechain tip turned into Stratum jobs, and back."""
