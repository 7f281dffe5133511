"""The command line: thin commands that parse, call one public function, and render."""
